"""Does a latency reading rank? The same students profiled again and again.

Eq. 2 adds each student's latency ratio to its score, so two profiles of one student must agree
far better than two different students differ. For ``--students`` students of conf/base's
space (uniform, ``--seed``), each profiled ``--profiles`` times in turn (A B C A B C ...), three
statistics are compared:

  * ``median``: the median of ``repeats`` forwards (the earlier reading; one round);
  * ``rounds``: the median over ``rounds`` rounds of each round's fastest of ``repeats``
    forwards (``profiling.latency_statistic``, what the teacher profile and the retrain report
    record);
  * ``paired``: timed against conf/base's search teacher, one forward of each in turn,
    ``rounds x repeats`` pairs (``profiling.measure_relative_latencies``, what the search
    records): the median pair ratio times the teacher's latency, read once at the start.

For each student and statistic: the median of its profiles and every profile's deviation from
it. Written to ``docs/figures/latency_stability.csv`` (a row per profile) and ``.json``
(summary, machine, command):

    python benchmarks/latency_stability.py --students 6 --profiles 7
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml

from trade_pipeline.models import build_model, student_model_spec, timm_model_spec
from trade_pipeline.profiling import LatencyReference, measure_latency, measure_relative_latencies

from common import ROOT, conf_space, head_commit, machine


SHAPE = (1, 1, 28, 28)  # batch 1, 28x28 grey digits


def statistics_of(model: torch.nn.Module, reference: LatencyReference, repeats: int, rounds: int,
                  warmup: int) -> dict[str, float]:
    """One profile of ``model`` under each statistic."""
    paired = measure_relative_latencies([model], reference, SHAPE, "cpu", warmup, rounds * repeats)[0]
    return {"median": measure_latency(model, SHAPE, "cpu", warmup, 1, rounds=repeats).median_ms,
            "rounds": measure_latency(model, SHAPE, "cpu", warmup, repeats, rounds=rounds).median_ms,
            "paired": paired.median_ms}


def search_teacher() -> torch.nn.Module:
    """conf/base's search teacher, untrained (its weights do not change its latency)."""
    conf = yaml.safe_load((ROOT / "conf" / "base" / "parameters_teacher.yml").read_text())["teacher"]
    teacher = conf["teachers"][conf["search_teacher"]]
    return build_model(timm_model_spec(teacher["model"], 1, 10, 28, **teacher.get("model_kwargs", {})))


def _shown(path: Path) -> str:
    """``path`` relative to the repository when inside it (records carry no machine's paths)."""
    return str(path.resolve().relative_to(ROOT)) if path.resolve().is_relative_to(ROOT) else path.name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=6)
    parser.add_argument("--profiles", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "figures" / "latency_stability")
    args = parser.parse_args()
    torch.set_num_threads(1)
    space = conf_space("base", 28)
    rng = np.random.default_rng(args.seed)
    specs = [space.sample(rng) for _ in range(args.students)]
    models = [build_model(student_model_spec(spec, 1, 10, 28)) for spec in specs]
    teacher = search_teacher()
    reference = LatencyReference(teacher, measure_latency(teacher, SHAPE, "cpu", args.warmup, args.repeats,
                                                          rounds=args.rounds).median_ms)
    rows = []
    for profile in range(args.profiles):
        for student, (spec, model) in enumerate(zip(specs, models)):
            for statistic, value in statistics_of(model, reference, args.repeats, args.rounds, args.warmup).items():
                rows.append({"student": student, "block_sequence": spec.block_sequence, "profile": profile,
                             "statistic": statistic, "latency_ms": value})
    table = pd.DataFrame(rows)
    median = table.groupby(["student", "statistic"])["latency_ms"].transform("median")
    table["deviation"] = table["latency_ms"] / median - 1.0
    summary = {
        statistic: {
            "max_abs_deviation": float(group["deviation"].abs().max()),
            "share_within_10pct": float((group["deviation"].abs() <= 0.10).mean()),
            "median_abs_deviation": float(group["deviation"].abs().median()),
        }
        for statistic, group in table.groupby("statistic")
    }
    record = {"summary": summary, "settings": vars(args) | {"out": _shown(args.out)},
              "machine": machine(), "commit": head_commit(),
              "command": "python benchmarks/latency_stability.py " + " ".join(sys.argv[1:])}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out.with_suffix(".csv"), index=False)
    args.out.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
