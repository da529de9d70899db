"""Share of a search's wall time spent outside candidate build/profile/training (issue 5).

Runs the embedded-default search (conf/base parameters, a throwaway state folder, MLflow
tracking to a throwaway SQLite file) on the latest saved `split`, `teacher_profile` and
`teacher_logits`, so run `kedro run --pipelines=data,teacher` first. Overhead is everything
the loop does besides evaluating candidates: GP fits, Thompson sampling, decoding, the trial
log, checkpoints, one nested MLflow run per candidate.
Prints `seconds_per_trial=<s>` and, last, `search_overhead_fraction=<x>` (target <= 0.05).

    python benchmarks/search_overhead.py [--n-trials 30] [--strategy turbo] [--seed 0] [--project DIR]

``--project`` reads the datasets and parameters of another Kedro project (default: this
repository), e.g. a throwaway copy of ``pyproject.toml`` + ``conf/`` where the data and teacher
pipelines ran.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import mlflow
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from trade_pipeline.search.config import SearchParams
from trade_pipeline.search.session import run_trade_search

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-trials", type=int, default=30)
    parser.add_argument("--strategy", default="turbo")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--project", type=Path, default=ROOT, help="a project where data,teacher ran")
    args = parser.parse_args()

    project = args.project.resolve()
    bootstrap_project(project)
    with KedroSession.create(project_path=project) as session:
        context = session.load_context()
        catalog = context.catalog
        split, profile, logits = (catalog.load(name) for name in ("split", "teacher_profile", "teacher_logits"))
        search: SearchParams = context.params["search"]
    with tempfile.TemporaryDirectory() as scratch:
        params = search.model_copy(update=dict(n_trials=args.n_trials, strategy=args.strategy, seed=args.seed,
                                               state_dir=f"{scratch}/state", resume=False))
        mlflow.set_tracking_uri(f"sqlite:///{scratch}/mlflow.db")
        mlflow.set_experiment("search_overhead")
        with mlflow.start_run(run_name="search_overhead"):
            start = time.perf_counter()
            outcome = run_trade_search(split, profile, logits, params)
            trials, summary = outcome.trials, outcome.summary
            wall = time.perf_counter() - start
    evaluating = float(trials["seconds"].sum())
    print(f"strategy={args.strategy} seed={args.seed} trials={len(trials)} statuses={summary['status_counts']}")
    scores = trials["score"].dropna().sort_values()
    meeting = int((trials["proxy_accuracy"] >= summary["acc_target"]).sum())
    print(f"best_score={scores.iloc[0]:.4g} top3_mean_score={scores.iloc[:3].mean():.4g} "
          f"meeting_target={meeting}/{len(trials)} best_proxy_accuracy={trials['proxy_accuracy'].max():.2f}")
    print(f"wall_seconds={wall:.1f} evaluating_seconds={evaluating:.1f}")
    print(f"seconds_per_trial={wall / len(trials):.2f}")
    print(f"search_overhead_fraction={(wall - evaluating) / wall:.4f}")


if __name__ == "__main__":
    main()
