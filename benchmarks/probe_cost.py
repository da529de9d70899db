"""What pruning's probes cost: one proxy evaluation timed with and without them.

Each probe scores a copy of the student on mini-val after recalibrating its BatchNorm on
training batches, as the final evaluation does, so on a short proxy a probe costs a share of the
run that the compute axis of ``pruning_regimes.py`` (training images only) does not count. This
evaluates the first ``--students`` of the regime suite's uniform students as the search does
(``evaluate_candidate``: build, profile, train, score) once per probe set, the sets interleaved
student by student so that a drift of the machine's speed falls on every set alike, checks that
each run ends at the cached accuracy (a probe must not change training), and records per set the
median seconds of an evaluation and, paired by student, the median extra seconds and ratio against
no probes. Run it alone on the machine. Record ``docs/figures/probe_cost[_warmupW].json``.

    python benchmarks/probe_cost.py --project /tmp/bench --students 20 [--proxy-warmup 0.25]
"""

from __future__ import annotations

import json

import numpy as np

from common import head_commit, machine, regime_suite_parser
from proxy_objective import proxy_objective_of, uniform_rows

from trade_pipeline.search.objective import Candidate, evaluate_candidate
from trade_pipeline.search.pruning import PruneRule, probe_updates

PROBE_SETS = {"none": (), "quarter_half": (0.25, 0.5), "eighth_quarter_half": (0.125, 0.25, 0.5)}
"""Shares of the proxy's updates probed: none, the default ``search.pruning.at``, and an eighth besides."""


def timed_evaluations(objective, rows: list[dict]) -> dict[str, list[float]]:
    """Seconds of each row's evaluation under each of ``PROBE_SETS``, interleaved by student."""
    total = objective.context.proxy_updates
    seconds: dict[str, list[float]] = {name: [] for name in PROBE_SETS}
    for row in rows:
        for name, shares in PROBE_SETS.items():
            rule = PruneRule(probe_updates(shares, total), total, objective.score) if shares else None
            candidate = Candidate(trial_id=0, iteration=0, point=tuple(row["encoding"]), trust_region=None, prune=rule)
            evaluated = evaluate_candidate(candidate, objective.device, objective.context)
            if evaluated["proxy_accuracy"] != row["proxy_accuracy"]:
                raise SystemExit(f"student {row['spec_hash']}: ended at {evaluated['proxy_accuracy']} with probes "
                                 f"{shares}, the cache holds {row['proxy_accuracy']}")
            seconds[name].append(evaluated["seconds"])
    return seconds


def summary(seconds: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    """Per probe set: median seconds, and paired by student against none, the median extra seconds and ratio."""
    base = np.asarray(seconds["none"])
    return {name: {"median_seconds": float(np.median(values)),
                   "median_extra_seconds": float(np.median(np.asarray(values) - base)),
                   "median_ratio": float(np.median(np.asarray(values) / base))}
            for name, values in seconds.items()}


def main() -> None:
    parser = regime_suite_parser(__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=20)
    args = parser.parse_args()
    objective, fingerprint, _ = proxy_objective_of(args)
    rows = [row for row in uniform_rows(objective, 200) if row["status"] == "ok"][: args.students]
    seconds = timed_evaluations(objective, rows)
    record = {"proxy_cache": fingerprint, "proxy_updates": objective.context.proxy_updates,
              "probe_sets": {name: list(shares) for name, shares in PROBE_SETS.items()}, "students": len(rows),
              "bn_recalibration_batches": objective.context.proxy.bn_recalibration_batches,
              "sets": summary(seconds), "seconds": seconds, "commit": head_commit(), "machine": machine()}
    suffix = "" if args.proxy_warmup is None else f"_warmup{args.proxy_warmup:g}"
    (args.figures / f"probe_cost{suffix}.json").write_text(json.dumps(record, indent=2) + "\n")
    for name, values in record["sets"].items():
        print(f"{name}: median {values['median_seconds']:.3f} s, +{values['median_extra_seconds']:.3f} s, "
              f"x{values['median_ratio']:.2f}")


if __name__ == "__main__":
    main()
