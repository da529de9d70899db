"""How much a student's proxy accuracy moves with the training seed alone.

The search trains each student once, with seed ``search.seed + trial_id``, so a student near the
accuracy target meets it or not partly by the seed's luck, and no model of accuracy can call
such students better than the seed allows. This benchmark takes the students of a finished
search whose proxy accuracy fell within ``--window`` points of the target (read from its
``trials.jsonl``), trains each again with ``--seeds`` seeds on the project's own proxy task
(conf/base: 3 epochs), and records each student's accuracies, the pooled within-student standard
deviation, and the share of re-runs on the other side of the target from each student's mean.

    python benchmarks/proxy_noise.py --project /tmp/proj \
        --trials /tmp/proj/data/07_model_output/search_state/trials.jsonl --students 12 --seeds 4
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from common import head_commit, machine
from proxy_objective import ProjectInputs, load_project
from trade_pipeline.search.objective import Candidate, evaluate_candidate
from trade_pipeline.search.session import objective_context

ROOT = Path(__file__).resolve().parents[1]


def near_target(trials: pd.DataFrame, target: float, window: float, n: int) -> pd.DataFrame:
    """Up to ``n`` distinct trained students within ``window`` points of ``target``, nearest first."""
    ok = trials[(trials["status"] == "ok") & trials["proxy_accuracy"].notna()].drop_duplicates("spec_hash")
    ok = ok.assign(distance=(ok["proxy_accuracy"] - target).abs())
    return ok[ok["distance"] <= window].sort_values("distance").head(n)


def retrain(students: pd.DataFrame, seeds: int, inputs: ProjectInputs) -> list[dict]:
    """Each student trained with trial ids 0..seeds-1 (seeds ``search.seed + id``, as the search seeds them)."""
    context = objective_context(inputs.split, inputs.teacher_profile, inputs.teacher_logits, inputs.search)
    rows = []
    for _, student in students.iterrows():
        accuracies = []
        for trial_id in range(seeds):
            candidate = Candidate(trial_id=trial_id, iteration=0, point=tuple(student["encoding"]), trust_region=None)
            row = evaluate_candidate(candidate, inputs.search.device, context)
            accuracies.append(row["proxy_accuracy"])
        rows.append({"spec_hash": student["spec_hash"], "block_sequence": student["block_sequence"],
                     "search_accuracy": float(student["proxy_accuracy"]), "accuracies": accuracies})
        print(f"{student['block_sequence']:>28}  search {student['proxy_accuracy']:.1f}  seeds {accuracies}", flush=True)
    return rows


def summarise(rows: list[dict], target: float) -> dict:
    """Pooled within-student deviation and how often a re-run lands across the target from the mean."""
    runs = [np.array([a for a in row["accuracies"] if a is not None], dtype=float) for row in rows]
    runs = [r for r in runs if len(r) >= 2]
    pooled = float(np.sqrt(sum(((r - r.mean()) ** 2).sum() for r in runs) / sum(len(r) - 1 for r in runs)))
    crossing = [float(np.mean((r >= target) != (r.mean() >= target))) for r in runs]
    met = [float(np.mean(r >= target)) for r in runs]
    return {"students": len(runs), "pooled_sd_points": pooled,
            "mean_share_across_target_from_mean": float(np.mean(crossing)),
            "students_met_by_some_seed_and_missed_by_another": int(sum(0 < m < 1 for m in met)),
            "per_student_sd": [float(r.std(ddof=1)) for r in runs]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("--trials", type=Path, required=True, help="a finished search's trials.jsonl")
    parser.add_argument("--students", type=int, default=12)
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--window", type=float, default=10.0, help="points either side of the target")
    parser.add_argument("--record", default="proxy_noise")
    parser.add_argument("--figures", type=Path, default=ROOT / "docs" / "figures")
    args = parser.parse_args()
    torch.set_num_threads(1)
    trials = pd.read_json(args.trials, lines=True)
    inputs = load_project(args.project)
    search, target = inputs.search, inputs.search.score.acc_target
    rows = retrain(near_target(trials, target, args.window, args.students), args.seeds, inputs)
    record = {"question": "How far does one student's proxy accuracy move with the training seed alone?",
              "command": f"python benchmarks/proxy_noise.py --project <dir> --trials <trials.jsonl> --students "
                         f"{args.students} --seeds {args.seeds} --window {args.window}",
              "commit": head_commit(), "machine": machine(), "acc_target": target,
              "proxy": search.proxy.model_dump(mode="json"), **summarise(rows, target), "rows": rows}
    args.figures.mkdir(parents=True, exist_ok=True)
    (args.figures / f"{args.record}.json").write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps({k: v for k, v in record.items() if k not in ("rows", "proxy", "machine")}, indent=1))


if __name__ == "__main__":
    main()
