"""Seconds per retrain epoch per model, and the share of an epoch spent outside the updates.

Runs the embedded default's retrain jobs (conf/base `retrain`, both modes, one seed) for a few
epochs on the latest saved `split`, `teacher_model`, `teacher_logits` and
`selected_architectures` (run `kedro run --pipelines=data,teacher,search` first), timing every
`Trainer.step` (forward, loss, backward, optimiser step), every evaluation and every checkpoint
write. "Outside" is what an epoch costs beyond its updates and its evaluation: batching and
augmentation, the checkpoint, bookkeeping. Prints per job `seconds_per_epoch=` and, last,
`retrain_overhead_fraction=` (target <= 0.05).

    python benchmarks/retrain_cost.py [--epochs 2] [--threads 2] [--project DIR]

``--project`` reads another Kedro project's datasets and parameters (default: this repository),
e.g. a throwaway copy of ``pyproject.toml`` + ``conf/`` where those pipelines ran.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import torch
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from trade_pipeline.retrain.config import RetrainParams
from trade_pipeline.retrain.jobs import RetrainContext, plan_jobs, train_job
from trade_pipeline.training import engine

ROOT = Path(__file__).resolve().parents[1]


def timed(owner: object, name: str, bucket: str, seconds: dict[str, float]) -> None:
    """Wraps ``owner.name`` so each call adds its wall time to ``seconds[bucket]``."""
    original = getattr(owner, name)

    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            seconds[bucket] += time.perf_counter() - start

    setattr(owner, name, wrapper)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--project", type=Path, default=ROOT, help="a project where data,teacher,search ran")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    project = args.project.resolve()
    bootstrap_project(project)
    with KedroSession.create(project_path=project) as session:
        context = session.load_context()
        catalog = context.catalog
        split, teacher, logits, selected, summary = (catalog.load(name) for name in (
            "split", "teacher_model", "teacher_logits", "selected_architectures", "search_summary"))
        base: RetrainParams = context.params["retrain"]
    seconds: dict[str, float] = defaultdict(float)
    timed(engine.Trainer, "step", "step", seconds)
    timed(engine.Checkpoint, "save", "checkpoint", seconds)
    timed(engine, "evaluate", "evaluate", seconds)
    totals = defaultdict(float)
    with tempfile.TemporaryDirectory() as scratch:
        recipe = base.recipe.model_copy(update={"epochs": args.epochs, "warmup_epochs": min(base.recipe.warmup_epochs,
                                                                                               args.epochs - 1)})
        params = base.model_copy(update={"recipe": recipe, "seeds": base.seeds[:1], "checkpoint_dir": scratch})
        job_context = RetrainContext(split, teacher, logits, params)
        print(f"threads={args.threads} epochs={args.epochs}")
        for job in plan_jobs(selected, summary, split, params):
            seconds.clear()
            start = time.perf_counter()
            train_job(job, base.device, job_context)
            wall = time.perf_counter() - start
            outside = wall - seconds["step"] - seconds["evaluate"]
            print(f"{job.name}: seconds_per_epoch={wall / args.epochs:.2f} step={seconds['step']:.2f}s "
                  f"evaluate={seconds['evaluate']:.2f}s checkpoint={seconds['checkpoint']:.2f}s "
                  f"outside_fraction={outside / wall:.4f}")
            for key in ("step", "evaluate"):
                totals[key] += seconds[key]
            totals["wall"] += wall
    outside = totals["wall"] - totals["step"] - totals["evaluate"]
    print(f"retrain_seconds={totals['wall']:.1f}")
    print(f"retrain_overhead_fraction={outside / totals['wall']:.4f}")


if __name__ == "__main__":
    main()
