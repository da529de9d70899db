"""Share of a search's wall time spent outside candidate build/profile/training.

Runs the embedded-default search (conf/base parameters, a throwaway state folder, MLflow
tracking to a throwaway SQLite file) on the latest saved `split`, `teacher_profile`,
`teacher_logits` and `teacher_model`, so run `kedro run --pipelines=data,teacher` first.
Overhead is everything the loop does besides evaluating candidates: GP fits, Thompson sampling,
decoding, the trial log, checkpoints, one nested MLflow run per candidate.
Prints `seconds_per_trial=<s>`, `ask_tell_fraction=<x>` (the strategy's own ask + tell, target
<= 0.02) and, last, `search_overhead_fraction=<x>` (target <= 0.05). With ``--record NAME`` the
trials go to ``docs/figures/NAME.csv``, the figures above to ``NAME.json`` (with commit and machine),
and ``NAME.png`` plots each candidate's predicted
proxy accuracy (the composite strategy's model, before training) and predicted latency (the
latency model, before profiling) against what was then measured.

    python benchmarks/search_overhead.py [--n-trials 50] [--strategy composite] [--seed 0] [--project DIR]
        [--record search_composite_seed0]

``--project`` reads the datasets and parameters of another Kedro project (default: this
repository), e.g. a throwaway copy of ``pyproject.toml`` + ``conf/`` where the data and teacher
pipelines ran.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mlflow
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from trade_pipeline.optim import AskTellOptimizer
from trade_pipeline.search.config import SearchParams
from trade_pipeline.search.session import run_trade_search

from common import head_commit, machine

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-trials", type=int, default=50)
    parser.add_argument("--strategy", default="composite")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--project", type=Path, default=ROOT, help="a project where data,teacher ran")
    parser.add_argument("--record", default=None, help="write docs/figures/<RECORD>.csv and .png")
    args = parser.parse_args()
    optimizer_seconds = time_optimizer()

    project = args.project.resolve()
    bootstrap_project(project)
    with KedroSession.create(project_path=project) as session:
        context = session.load_context()
        catalog = context.catalog
        split, profile, logits, teacher = (catalog.load(name) for name in ("split", "teacher_profile", "teacher_logits",
                                                                           "teacher_model"))
        search: SearchParams = context.params["search"]
    with tempfile.TemporaryDirectory() as scratch:
        params = search.model_copy(update=dict(n_trials=args.n_trials, strategy=args.strategy, seed=args.seed,
                                               state_dir=f"{scratch}/state", resume=False))
        mlflow.set_tracking_uri(f"sqlite:///{scratch}/mlflow.db")
        mlflow.set_experiment("search_overhead")
        with mlflow.start_run(run_name="search_overhead"):
            start = time.perf_counter()
            outcome = run_trade_search(split, profile, logits, params, teacher)
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
    print(f"ask_tell_seconds={optimizer_seconds[0]:.2f} ask_tell_fraction={optimizer_seconds[0] / wall:.4f}")
    print(f"latency_model_error={summary['latency_model_error']} filtered_over_budget={summary['filtered_over_budget']}")
    print(f"search_overhead_fraction={(wall - evaluating) / wall:.4f}")
    if args.record:
        figures = ROOT / "docs" / "figures"
        trials.to_csv(figures / f"{args.record}.csv", index=False)
        plot_predictions(trials).savefig(figures / f"{args.record}.png", dpi=120)
        best = trials.loc[trials["score"].idxmin()]
        record = {"command": " ".join(["python", "benchmarks/search_overhead.py", *sys.argv[1:]]), "commit": head_commit(),
                  "machine": machine(),
                  "strategy": args.strategy, "seed": args.seed, "trials": len(trials),
                  "wall_seconds": round(wall, 1), "evaluating_seconds": round(evaluating, 1),
                  "ask_tell_seconds": round(optimizer_seconds[0], 2),
                  "ask_tell_percent": round(100 * optimizer_seconds[0] / wall, 2),
                  "other_seconds": round(wall - evaluating - optimizer_seconds[0], 1),
                  "other_percent": round(100 * (wall - evaluating - optimizer_seconds[0]) / wall, 1),
                  "latency_model_error_percent": round(100 * summary["latency_model_error"], 1),
                  "best_score": round(float(best["score"]), 2), "best_proxy_accuracy": float(best["proxy_accuracy"])}
        (figures / f"{args.record}.json").write_text(json.dumps(record, indent=2) + "\n")


def time_optimizer() -> list[float]:
    """Accumulates the wall time of every strategy's ``ask`` and ``tell`` into the returned cell."""
    seconds = [0.0]
    for name in ("ask", "tell"):
        method = getattr(AskTellOptimizer, name)

        def timed(self, *args, _method=method, **kwargs):
            start = time.perf_counter()
            try:
                return _method(self, *args, **kwargs)
            finally:
                seconds[0] += time.perf_counter() - start

        setattr(AskTellOptimizer, name, timed)
    return seconds


def plot_predictions(trials) -> plt.Figure:
    """Predicted (before training / profiling) against measured proxy accuracy and latency."""
    figure, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    for ax, (predicted, measured, label) in zip(axes, [("predicted_accuracy", "proxy_accuracy", "proxy top-1 (%)"),
                                                       ("predicted_latency_ms", "latency_ms", "batch-1 latency (ms)")]):
        known = trials.dropna(subset=[predicted, measured])
        ax.scatter(known[measured], known[predicted], c=known["trial_id"], cmap="viridis", s=25)
        low, high = known[[predicted, measured]].min().min(), known[[predicted, measured]].max().max()
        ax.plot([low, high], [low, high], color="grey", linewidth=1, linestyle="--")
        error = (known[predicted] - known[measured]).abs().median()
        ax.set(xlabel=f"measured {label}", ylabel=f"predicted {label}",
               title=f"{len(known)} candidates, median |error| {error:.2f}")
    figure.suptitle("Before evaluation: the composite strategy's accuracy model and the latency model "
                    "(colour: trial order)", fontsize=10)
    figure.tight_layout()
    return figure


if __name__ == "__main__":
    main()
