"""How often each strategy's own picks meet the target, beside how good its best student is.

Reads ``compare_strategies.py``'s raw runs of one problem's regimes (``proxy``: the regime suite,
accuracies from its proxy cache; ``nb201``: the NAS-Bench-201 table) and, per regime and method,
counts the evaluations after the shared design that met the regime's target (and its budget), beside
the median best value at the end (lower is better). A search that meets the target more often
is not thereby better: the best value comes from the cheap students nearest the target, which
are the likeliest to miss it. Records ``docs/figures/met_share_<problem>.{json,md}``.

    python benchmarks/met_share.py proxy   # runs under data/benchmarks/compare_strategies
    python benchmarks/met_share.py nb201 --out <compare_strategies.py nb201's --out>
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from common import head_commit
from proxy_objective import cached_rows
from strategy_report import LABELS, ORDER

ROOT = Path(__file__).resolve().parents[1]
REGIMES = ("binding", "strict", "needle", "budget")


def proxy_regimes(out: Path, figures: Path) -> dict[str, tuple[Path, float, dict[str, float]]]:
    """Per regime of the suite: its runs' folder, its target and the accuracy of each cached student."""
    suite = json.loads((figures / "compare_proxy_regimes.json").read_text())
    regimes = {}
    for name in REGIMES:
        cache = suite[name]["proxy_cache"]
        accuracy = {row["spec_hash"]: row["proxy_accuracy"] for row in cached_rows(out, cache)}
        regimes[name] = (out / f"proxy-{cache}-{name}_50", suite[name]["target"], accuracy)
    return regimes


def nb201_regimes(out: Path) -> dict[str, tuple[Path, float, dict[str, float]]]:
    """Per NAS-Bench-201 regime: its runs' folder, its target and each cell's accuracy (by its code)."""
    import nb201

    table = nb201.load_table()
    accuracy = {f"{code:05d}": float(value) for code, value in enumerate(table["accuracy"])}
    return {name: (out / f"nb201_{name}_50", nb201.NB201Problem.at_regime(table, name).target, accuracy)
            for name in ("binding", "strict", "needle")}


def met_shares(folder: Path, target: float, accuracy: dict[str, float]) -> list[dict]:
    """Per method in ``folder``: evaluations after the design that met ``target``, and the median best value."""
    rows = []
    for method in ORDER:
        runs = [pd.read_csv(path, dtype={"key": str}) for path in sorted(folder.glob(f"{method}-seed*.csv"))]
        if not runs:
            continue
        picked = pd.concat([run[run["phase"] != "design"] for run in runs])
        # an evaluation with no value was over the budget (never trained) or failed: it met nothing
        met = (picked["key"].map(accuracy).astype(float) >= target) & picked["value"].notna()
        rows.append({"method": method, "seeds": len(runs), "picks": len(picked),
                     "met_target": int(met.sum()), "met_share": float(met.mean()),
                     "met_percent": round(100 * float(met.mean()), 1),
                     "median_best": float(np.median([run["best"].iloc[-1] for run in runs]))})
    return rows


def markdown(record: dict) -> str:
    lines = [f"Command: `{record['command']}`; lower best is better.", ""]
    for regime, result in record["regimes"].items():
        lines += [f"**{regime}** (target {result['target']:.3g}; Spearman of met share and median best over the "
                  f"methods {result['spearman_met_share_best']:.2f})", "",
                  "| method | picks after the design that met the target | median best |", "|---|---|---|"]
        lines += [f"| {LABELS[row['method']]} | {row['met_target']} of {row['picks']} ({100 * row['met_share']:.0f} %) "
                  f"| {row['median_best']:.3g} |" for row in result["methods"]]
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("problem", choices=["proxy", "nb201"])
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "benchmarks" / "compare_strategies")
    parser.add_argument("--figures", type=Path, default=ROOT / "docs" / "figures")
    args = parser.parse_args()
    regimes = proxy_regimes(args.out, args.figures) if args.problem == "proxy" else nb201_regimes(args.out)
    record = {"question": "Do the strategies whose picks meet the target most often find the best students?",
              "command": f"python benchmarks/met_share.py {args.problem}"
                         + (" --out <its runs>" if args.problem == "nb201" else ""),
              "commit": head_commit(), "regimes": {}}
    for regime, (folder, target, accuracy) in regimes.items():
        methods = met_shares(folder, target, accuracy)
        rho = spearmanr([m["met_share"] for m in methods], [m["median_best"] for m in methods]).statistic
        record["regimes"][regime] = {"target": target, "spearman_met_share_best": float(rho), "methods": methods}
    args.figures.mkdir(parents=True, exist_ok=True)
    (args.figures / f"met_share_{args.problem}.json").write_text(json.dumps(record, indent=1) + "\n")
    (args.figures / f"met_share_{args.problem}.md").write_text(markdown(record) + "\n")
    print(markdown(record))


if __name__ == "__main__":
    main()
