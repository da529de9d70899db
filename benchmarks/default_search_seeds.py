"""The default search on several seeds beside random search on the same seeds.

Runs ``kedro run --pipelines=search --params=search.seed=N,search.strategy=S`` in ``--project``
(a copy of ``pyproject.toml`` and ``conf/`` where ``kedro run --pipelines=data,teacher`` ran),
from a fresh search state each time, exactly as a user would, and keeps each run's trials under
``--out`` (a run already kept is skipped, so a killed benchmark resumes). Then writes
``docs/figures/default_search_seeds.csv`` (every trial: strategy, seed, whether the model chose
it, its predicted accuracy and P(>= target), proxy accuracy and score) and
``default_search_seeds_summary.csv`` (per run: model-guided students and how many met the target,
design students and how many met it, best score).

``--params`` adds Kedro parameters to every run and ``--record`` names its records instead;
``--baseline DIR`` (runs of the same strategies and seeds without those parameters) adds
``<record>_vs_baseline.json``: per seed, both runs' best scores, their proxy compute (training
images; a baseline row without ``image_epochs`` counts one full proxy run per trained student)
and the share of the baseline's compute at which this run first matched the baseline's best.

    python benchmarks/default_search_seeds.py --project /tmp/proj --seeds 0-4 --strategies composite random
    python benchmarks/default_search_seeds.py --project /tmp/proj --seeds 0-4 --strategies composite \
        --params search.pruning.enabled=true --record default_search_pruning --out <dir> \
        --baseline data/benchmarks/default_search_seeds
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from common import head_commit, machine
from compare_strategies import parse_seeds
from trade_pipeline.search.trials import guided_outcomes, ok_trials

ROOT = Path(__file__).resolve().parents[1]
KEPT = ["trial_id", "iteration", "status", "guided", "predicted_accuracy", "p_feasible", "proxy_accuracy", "resource_ratio",
        "score", "block_sequence", "image_epochs"]


def run_default_search(project: Path, strategy: str, seed: int, params: str = "") -> pd.DataFrame:
    """One search in ``project`` from a fresh state; its trials table."""
    shutil.rmtree(project / "data" / "07_model_output" / "search_state", ignore_errors=True)
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "1",
           "MLFLOW_TRACKING_URI": os.environ.get("MLFLOW_TRACKING_URI", f"sqlite:///{project / 'mlflow.db'}")}
    subprocess.run(["kedro", "run", "--pipelines=search",
                    f"--params=search.seed={seed},search.strategy={strategy}{',' + params if params else ''}"],
                   cwd=project, env=env, check=True, stdout=subprocess.DEVNULL)
    return pd.read_json(project / "data" / "07_model_output" / "search_state" / "trials.jsonl", lines=True)


def summary(trials: pd.DataFrame, acc_target: float) -> pd.DataFrame:
    """Per (strategy, seed): model-guided students and those that met the target, the design's, best score."""
    rows = []
    for (strategy, seed), run in trials.groupby(["strategy", "seed"], sort=False):
        guided, guided_met = guided_outcomes(run, acc_target)
        scored = ok_trials(run)
        design = scored[~scored["guided"].fillna(False).astype(bool)]
        rows.append({"strategy": strategy, "seed": seed, "guided": guided, "guided_met_target": guided_met,
                     "guided_met_share": guided_met / guided if guided else float("nan"),
                     "unguided": len(design), "unguided_met_target": int((design["proxy_accuracy"] >= acc_target).sum()),
                     "best_score": float(run["score"].min())})
    return pd.DataFrame(rows)


def compute_curve(run: pd.DataFrame, full_run: float) -> tuple[np.ndarray, np.ndarray]:
    """Proxy compute spent and best score so far after each trial (in trial order)."""
    run = run.sort_values("trial_id")
    spent = run["image_epochs"].fillna(full_run).where(run["status"] != "over_budget", 0.0).cumsum().to_numpy()
    return spent, np.fmin.accumulate(run["score"].fillna(np.inf).to_numpy())


def against_baseline(trials: pd.DataFrame, baseline: Path, full_run: float) -> dict:
    """Per (strategy, seed): best scores, compute, and the share of the baseline's compute at which
    this run matched the baseline's final best (None: never)."""
    per_run = []
    for (strategy, seed), run in trials.groupby(["strategy", "seed"]):
        base = pd.read_csv(baseline / f"{strategy}-seed{seed}.csv").reindex(columns=KEPT)
        base_spent, base_best = compute_curve(base, full_run)
        spent, best = compute_curve(run, full_run)
        reached = spent[best <= base_best[-1]]
        per_run.append({"strategy": strategy, "seed": int(seed), "best_score": float(best[-1]),
                        "baseline_best_score": float(base_best[-1]), "compute": float(spent[-1]),
                        "baseline_compute": float(base_spent[-1]),
                        "compute_share_to_match": float(reached[0] / base_spent[-1]) if len(reached) else None})
    return {"full_proxy_run_images": full_run, "per_run": per_run}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("--seeds", nargs="+", default=["0-4"])
    parser.add_argument("--strategies", nargs="+", default=["composite", "random"])
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "benchmarks" / "default_search_seeds")
    parser.add_argument("--figures", type=Path, default=ROOT / "docs" / "figures")
    parser.add_argument("--params", default="", help="more Kedro parameters for every run, e.g. search.pruning.enabled=true")
    parser.add_argument("--record", default="default_search_seeds", help="docs/figures/<RECORD>.csv and _summary.csv")
    parser.add_argument("--baseline", type=Path, default=None, help="runs without --params to compare with")
    args = parser.parse_args()
    project = args.project.resolve()
    acc_target = yaml.safe_load((project / "conf" / "base" / "parameters_search.yml").read_text()
                                )["search"]["score"]["acc_target"]
    runs = []
    for seed in parse_seeds(args.seeds):
        for strategy in args.strategies:
            path = args.out / f"{strategy}-seed{seed}.csv"
            if not path.exists():
                trials = run_default_search(project, strategy, seed, args.params)[KEPT]
                args.out.mkdir(parents=True, exist_ok=True)
                trials.to_csv(path.with_suffix(".tmp"), index=False)
                os.replace(path.with_suffix(".tmp"), path)
            runs.append(pd.read_csv(path).reindex(columns=KEPT).assign(strategy=strategy, seed=seed))
    trials = pd.concat(runs, ignore_index=True)[["strategy", "seed", *KEPT]]
    trials.to_csv(args.figures / f"{args.record}.csv", index=False, float_format="%.6g")
    table = summary(trials, acc_target)
    table.to_csv(args.figures / f"{args.record}_summary.csv", index=False, float_format="%.4g")
    if args.baseline is not None:  # a student trained to the end costs one full proxy run
        full_run = float(trials.loc[trials["status"] == "ok", "image_epochs"].max())
        comparison = {"params": args.params, "baseline": str(args.baseline), "commit": head_commit(),
                      "machine": machine(), **against_baseline(trials, args.baseline, full_run)}
        (args.figures / f"{args.record}_vs_baseline.json").write_text(json.dumps(comparison, indent=2) + "\n")
        print(pd.DataFrame(comparison["per_run"]).to_string(index=False))
    print(table.to_string(index=False))
    print(table.groupby("strategy")[["guided", "guided_met_target", "best_score"]].agg(
        {"guided": "sum", "guided_met_target": "sum", "best_score": "median"}).to_string())


if __name__ == "__main__":
    main()
