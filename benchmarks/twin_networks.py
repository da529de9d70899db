"""How many evaluations of each strategy went to a network it had already evaluated.

Two specs can build one network (a ``skip`` that timm never adds, ``ArchitectureSpec.network_hash``);
the proxy cache keeps a row per spec, each with its own latency measurement, so a strategy that
proposes the second spec gets the same accuracy at a slightly different score. Reads the regime
suite's raw runs (``compare_strategies.py proxy --regimes``) and its cache, and counts per regime
and method the evaluations whose network the run had evaluated before, how many of those set a
new best value, and the runs whose final best is such a repeat. Record ``docs/figures/<record>.json``.

    python benchmarks/twin_networks.py --record twin_networks   # runs under data/benchmarks/compare_strategies
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from common import head_commit
from met_share import REGIMES
from proxy_objective import cached_rows
from strategy_report import ORDER
from trade_pipeline.students.spec import ArchitectureSpec

ROOT = Path(__file__).resolve().parents[1]


def twins(run: pd.DataFrame, network: dict[str, str]) -> tuple[int, int, bool]:
    """Evaluations of ``run`` (in order) whose network came earlier in it, how many of them set a new
    best, and whether the run's final best is one of them (``network``: spec hash -> network hash of
    every trained student; a student over the budget, never trained, is its own)."""
    seen, best, repeated, improved, best_repeated = set(), np.inf, 0, 0, False
    for key, value in zip(run["key"], run["value"]):
        again = network.get(key, key) in seen
        repeated += again
        if value < best:
            improved += again
            best, best_repeated = value, again
        seen.add(network.get(key, key))
    return repeated, improved, best_repeated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "benchmarks" / "compare_strategies")
    parser.add_argument("--figures", type=Path, default=ROOT / "docs" / "figures")
    parser.add_argument("--record", default="twin_networks")
    args = parser.parse_args()
    suite = json.loads((args.figures / "compare_proxy_regimes.json").read_text())
    record = {"question": "How many evaluations went to a network the run had evaluated before?",
              "command": f"python benchmarks/twin_networks.py --record {args.record}", "commit": head_commit(),
              "regimes": {}}
    for regime in REGIMES:
        cache = suite[regime]["proxy_cache"]
        network = {row["spec_hash"]: ArchitectureSpec.from_json(row["spec_json"]).network_hash
                   for row in cached_rows(args.out, cache) if row.get("spec_json")}
        folder, methods = args.out / f"proxy-{cache}-{regime}_50", {}
        for method in ORDER:
            runs = [pd.read_csv(path, dtype={"key": str}) for path in sorted(folder.glob(f"{method}-seed*.csv"))]
            if runs:
                counts = np.array([twins(run, network) for run in runs])
                repeated, improved, best_repeated = counts.sum(axis=0).tolist()
                methods[method] = {"seeds": len(runs), "evaluations": int(sum(len(run) for run in runs)),
                                   "repeated_networks": repeated, "set_a_new_best": improved,
                                   "final_best_repeated": best_repeated}
        record["regimes"][regime] = methods
    args.figures.mkdir(parents=True, exist_ok=True)
    (args.figures / f"{args.record}.json").write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps(record["regimes"], indent=1))


if __name__ == "__main__":
    main()
