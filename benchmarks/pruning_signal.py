"""When does a student's proxy learning curve tell whether it will meet the target?

Before a pruning rule can save compute, some early evaluation has to rank students as their
final proxy accuracy does. This trains the first ``--students`` of the regime suite's uniform
students again (the proxy task of ``compare_strategies.py proxy``, same seed) with
``engine.Probe`` evaluations on mini-val at ``--fractions`` of their updates, checks that each
final accuracy equals the cached one (a probe must not change training), and reports per
fraction: Spearman with the final accuracy, and per regime target the ROC AUC of the early
accuracy for "final accuracy meets the target", the share of the students that meet it that a
cut keeping the top half at that point would keep, and the share of the students that miss it
that a cut losing none that meet it could stop there (what a rule needs to stop early). Records
``docs/figures/pruning_signal.csv`` (a row per student and probe) and ``pruning_signal.json`` /
``.md`` (per fraction).

``--warmup-epochs W`` and ``--epochs E`` train them under another schedule instead (a shorter
warm-up, a longer proxy; records ``pruning_signal_epochsE_warmupW``) and add how its final
accuracies rank against the cached ones: a schedule that gives an earlier signal is only worth
having if it ranks students as today's proxy does. Its accuracies differ in level, so each target
moves to the accuracy that as many of the students meet under it as meet today's target today.

    python benchmarks/pruning_signal.py --project /tmp/bench --students 60 [--epochs 4] [--warmup-epochs 0.25]

``--report-only`` summarises the curves of an earlier run (its ``.csv``) again, training nothing.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr

from common import head_commit, machine, regime_suite_parser
from proxy_objective import CachedObjective, proxy_objective_of, uniform_rows
from trade_pipeline.data.loaders import make_loader
from trade_pipeline.models import build_model, student_model_spec
from trade_pipeline.search.objective import proxy_train
from trade_pipeline.training.engine import Probe

ROOT = Path(__file__).resolve().parents[1]


def probed_curve(objective: CachedObjective, row: dict, fractions: list[float], schedule: dict) -> pd.DataFrame:
    """One cached student trained again as the cache trained it (or under ``schedule``: proxy
    settings such as ``epochs`` and ``warmup_epochs``), probed at ``fractions`` of its updates;
    ``cached``: the cache's final accuracy."""
    context, split = objective.context, objective.context.split
    if schedule:
        context = dataclasses.replace(context, proxy=context.proxy.model_copy(update=schedule))
    spec = context.space.decode(np.asarray(row["encoding"]))
    torch.manual_seed(context.seed)  # as evaluate_candidate seeds trial 0, the cache's
    model = build_model(student_model_spec(spec, split.channels, split.num_classes, split.image_size))
    train_loader = make_loader(split, "mini_train", context.proxy.batch_size, indices=context.training_indices(),
                               settings=context.proxy.loader)
    total = context.proxy.total_steps(len(train_loader))
    loader = make_loader(split, "mini_val", max(context.proxy.batch_size, 256), settings=context.proxy.loader)
    probe = Probe(at=tuple(sorted({max(1, round(f * total)) for f in fractions})), loader=loader)
    result = proxy_train(model, context, context.seed, objective.device, probe=probe)
    if not schedule and result.top1 != row["proxy_accuracy"]:
        raise SystemExit(f"student {row['spec_hash']}: probed run ended at {result.top1}, the cache holds "
                         f"{row['proxy_accuracy']}: a probe changed training, or the cache is from other code")
    points = [*result.probes, {"updates": total, "top1": result.top1}]
    return pd.DataFrame([{"spec_hash": row["spec_hash"], "updates": p["updates"], "fraction": p["updates"] / total,
                          "top1": p["top1"], "final": result.top1, "cached": row["proxy_accuracy"]} for p in points])


def auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """ROC AUC of ``scores`` for ``positive`` (ties count half); NaN without both classes."""
    pos, neg = scores[positive], scores[~positive]
    if not len(pos) or not len(neg):
        return math.nan
    return float(((pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()) / (len(pos) * len(neg)))


def summarise(curves: pd.DataFrame, targets: dict[str, float]) -> list[dict]:
    """Per probe fraction: rank agreement with the final accuracy and, per target, how well the
    early accuracy separates the students that meet it."""
    rows = []
    for fraction, at in curves.groupby("fraction"):
        early, final = at["top1"].to_numpy(), at["final"].to_numpy()
        top_half = early >= np.median(early)
        row = {"fraction": round(float(fraction), 3), "students": len(at), "spearman": float(spearmanr(early, final)[0])}
        for regime, target in targets.items():
            meets = final >= target
            row[f"auc_{regime}"] = auc(early, meets)
            row[f"kept_{regime}"] = float(top_half[meets].mean()) if meets.any() else math.nan
            row[f"stoppable_{regime}"] = (float((early[~meets] < early[meets].min()).mean())
                                          if meets.any() and not meets.all() else math.nan)
        rows.append(row)
    return rows


def same_rank(target: float, today: np.ndarray, other: np.ndarray) -> float:
    """The accuracy under another schedule (``other``) that as many students meet as meet
    ``target`` under today's (``today``, the same students)."""
    met = int((today >= target).sum())
    return float(np.sort(other)[::-1][met - 1]) if met else math.inf


def main() -> None:
    parser = regime_suite_parser(__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=60)
    parser.add_argument("--fractions", type=float, nargs="+",
                        default=[0.05, 0.1, 0.125, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75])
    parser.add_argument("--warmup-epochs", type=float, default=None, help="train under this warm-up instead")
    parser.add_argument("--epochs", type=int, default=None, help="train this many proxy epochs instead")
    parser.add_argument("--report-only", action="store_true", help="summarise the curves recorded before")
    args = parser.parse_args()
    schedule = {key: value for key, value in (("epochs", args.epochs), ("warmup_epochs", args.warmup_epochs))
                if value is not None}
    name = "_".join(["pruning_signal", *(f"{key.split('_')[0]}{value:g}" for key, value in schedule.items())])
    objective, fingerprint, _ = proxy_objective_of(args)
    if args.report_only:
        curves = pd.read_csv(args.figures / f"{name}.csv", dtype={"spec_hash": str})
    else:
        students = [row for row in uniform_rows(objective, 200) if row["status"] == "ok"][: args.students]
        curves = pd.concat([probed_curve(objective, row, args.fractions, schedule) for row in students],
                           ignore_index=True)
        curves.to_csv(args.figures / f"{name}.csv", index=False)
    regimes = json.loads((args.figures / "compare_proxy_regimes.json").read_text())
    targets = {regime: values["target"] for regime, values in regimes.items() if regime != "budget"}
    finals = curves.drop_duplicates("spec_hash")
    if schedule:
        targets = {regime: same_rank(target, finals["cached"].to_numpy(), finals["final"].to_numpy())
                   for regime, target in targets.items()}
    record = {"proxy_cache": fingerprint, "schedule": schedule,
              "proxy": objective.context.proxy.model_dump(mode="json"), "students": len(finals), "targets": targets,
              "final_spearman_with_cached": float(spearmanr(finals["final"], finals["cached"])[0]),
              "commit": head_commit(), "machine": machine(), "per_fraction": summarise(curves, targets)}
    (args.figures / f"{name}.json").write_text(json.dumps(record, indent=2) + "\n")
    text = describe(record)
    (args.figures / f"{name}.md").write_text(text + "\n")
    print(text)


def describe(record: dict) -> str:
    """The record as the ``.md`` table: one row per probe share."""
    targets = list(record["targets"])
    trained = ", ".join(f"{key} {value:g}" for key, value in record["schedule"].items()) or "the cache's schedule"
    lines = [f"{record['students']} uniform students, proxy cache {record['proxy_cache']}, trained with {trained}; "
             f"final accuracies' Spearman with the cached ones {record['final_spearman_with_cached']:.2f}; "
             f"commit {record['commit']}.", "",
             "| share of updates | Spearman with final | "
             + " | ".join(f"AUC {r} | top half keeps {r} | misses stoppable {r}" for r in targets)
             + " |", "|---" * (2 + 3 * len(targets)) + "|"]
    lines += [f"| {row['fraction']:.2f} | {row['spearman']:.2f} | "
              + " | ".join(f"{row[f'auc_{r}']:.2f} | {row[f'kept_{r}']:.2f} | {row[f'stoppable_{r}']:.2f}"
                           for r in targets) + " |" for row in record["per_fraction"]]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
