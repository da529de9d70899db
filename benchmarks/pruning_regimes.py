"""Pruning in the regime suite: does ``search.pruning`` reach the unpruned search's result at half its compute?

For each regime and seed, the default strategy searches the regime suite's proxy objective as
``compare_strategies.py proxy --regimes`` does (same cache, targets, shared design, 50
evaluations, batch 4), with pruning as the search applies it: before each bracket the rule of
``search.pruning`` (the project's settings, enabled) is fitted on the earlier brackets' finished
students (``pruning_rule``); each student's accuracy at the probes comes from its learning curve
(``CachedObjective.curve``, trained again with probes on a miss); a student the rule stops costs
the share of its updates it trained, and the strategy is told the log(Score) at its likely final
accuracy, with that estimate's deviation, as the search tells it. The unpruned arm is the suite's own composite runs
(``proxy-<cache>-<regime>_50/composite-seed*.csv``), so run those first.

Both arms are read by proxy compute (training image-epochs, the design's included; what the
probes' evaluations cost besides is measured by ``probe_cost.py``): per seed the best
log(Score) among the students trained to the end after each amount of compute, and the median
over seeds. ``compute_share_to_match`` is the least share of the unpruned arm's (median) final
compute at which the pruned arm's median is at least as good as the unpruned arm's median final
best (null: never); paired wins and Wilcoxon p are taken at ``COMPARED_AT`` shares of that compute. A pruned
student's final accuracy is in the cache, so the record also counts wrong prunes: students
stopped that would have beaten the best of their bracket's rule. And it bounds what any rule
probing there could do: the unpruned runs replayed with every student that did not improve on
the best stopped at the first probe (``oracle``). Records
``docs/figures/pruning_<regime>.json``, ``pruning_regimes.csv`` / ``.png`` (median best against
compute) and ``pruning_regimes.md``; runs under ``--out``/``proxy-<cache>-<regime>_50_pruning`` (a killed
benchmark resumes).

    python benchmarks/pruning_regimes.py --project /tmp/bench --regimes binding strict --seeds 0-9
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from common import head_commit, machine, paired_test, regime_suite_parser
from compare_strategies import Problem, parse_seeds, project_settings, run_one, shared_design
from proxy_objective import CachedObjective, proxy_objective_of

from trade_pipeline.search.config import SearchParams
from trade_pipeline.search.pruning import PruningParams, pruning_rule
from trade_pipeline.search.score import Budget

BUDGET, BATCH = 50, 4  # the regime suite's evaluations and batch
COMPARED_AT = (0.5, 1.0)
"""Shares of the unpruned arm's final compute at which the arms are paired seed by seed."""


class PrunedSearch:
    """One pruned search's evaluations on the cached objective ``view``: each call is a bracket,
    evaluated under the rule fitted on the brackets before it."""

    def __init__(self, view: CachedObjective, params: PruningParams) -> None:
        self.view, self.params = view, params.model_copy(update={"enabled": True})
        self.rows: list[dict[str, Any]] = []  # trial-row fields the rule reads, in evaluation order
        self.by_key: dict[str, dict[str, Any]] = {}

    def __call__(self, points: np.ndarray) -> np.ndarray:
        rule = pruning_rule(self.rows, self.params, self.view.context.proxy_updates, self.view.score)
        bracket = [self._evaluate(point, rule) for point in np.atleast_2d(points)]
        self.rows += bracket
        return np.array([row["told"] for row in bracket])

    def _evaluate(self, point: np.ndarray, rule) -> dict[str, Any]:
        curve = self.view.curve(point, rule.at)  # trains the student on a miss
        row = self.view.row(point)
        full = float(self.view.image_epochs(point)[0])
        evaluated = {"key": row["spec_hash"], "status": row["status"], "curve": curve, "proxy_accuracy": None,
                     "log_score": None, "told": math.nan, "outcome": math.nan, "outcome_sd": math.nan,
                     "image_epochs": full, "pruned_at": None, "best_before": rule.best_log_score}
        if curve is None or row["proxy_accuracy"] is None:  # failed, over budget, or learned nothing
            return self._keep(evaluated)
        accuracy, s = row["proxy_accuracy"], row["resource_ratio"]
        final = self.view.score.log_value(accuracy, s)
        for at, (updates, top1) in enumerate(curve):
            if rule.stop(updates, top1, s):
                estimate = rule.estimate(updates, top1)
                return self._keep({**evaluated, "status": "pruned", "curve": curve[: at + 1], "pruned_at": updates,
                                   "told": self.view.score.log_value(estimate, s), "outcome": estimate,
                                   "outcome_sd": rule.estimate_sd(updates, top1),
                                   "image_epochs": round(full * updates / rule.total_updates), "final": final})
        return self._keep({**evaluated, "proxy_accuracy": accuracy, "log_score": final, "told": final,
                           "outcome": accuracy})

    def _keep(self, evaluated: dict[str, Any]) -> dict[str, Any]:
        self.by_key[evaluated["key"]] = evaluated
        return evaluated

    def field(self, name: str, points: np.ndarray) -> np.ndarray:
        """``name`` of each evaluated point's row."""
        return np.array([self.by_key[self.view.key(point)][name] for point in np.atleast_2d(points)], dtype=float)

    def best(self, points: np.ndarray) -> np.ndarray:
        """The best log(Score) of a student trained to the end, after each of ``points`` (in order)."""
        return np.minimum.accumulate(np.nan_to_num(self.field("log_score", points), nan=np.inf))


def pruned_problem(name: str, search: PrunedSearch, params: SearchParams) -> Problem:
    """The regime's problem as the default strategy sees it, with pruning."""
    view = search.view
    return Problem(name, view.dimensions, search, BUDGET, key=view.key, network=view.network,
                   strategy_options=project_settings(params), outcome=lambda p: search.field("outcome", p),
                   outcome_sd=lambda p: search.field("outcome_sd", p),
                   outcome_target=view.acc_target, structure=view.strategy_structure,
                   compute=lambda p: search.field("image_epochs", p), progress=search.best)


def run_seed(name: str, view: CachedObjective, params: SearchParams, seed: int, path: Path) -> None:
    """One pruned run, its rows (``RUN_COLUMNS`` plus ``pruned_at`` and a pruned student's true
    ``final`` log(Score) and ``best_before``) written atomically to ``path``."""
    search = PrunedSearch(view, params.pruning)
    problem = pruned_problem(name, search, params)
    design = shared_design(problem, BUDGET, BATCH, seed)
    frame = run_one("composite", problem, seed, BUDGET, BATCH, design, search(design))
    extra = pd.DataFrame([search.by_key[key] for key in frame["key"]])
    frame["pruned_at"], frame["final"], frame["best_before"] = extra["pruned_at"], extra.get("final"), extra["best_before"]
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".csv.tmp")
    frame.to_csv(partial, index=False)
    os.replace(partial, path)


def best_at(run: pd.DataFrame, compute: np.ndarray) -> np.ndarray:
    """The run's best log(Score) once each amount of ``compute`` is spent (inf before any)."""
    spent = run["image_epochs"].cumsum().to_numpy()
    best = np.nan_to_num(run["best"].to_numpy(), nan=np.inf)
    index = np.searchsorted(spent, compute, side="right") - 1
    return np.where(index >= 0, best[np.maximum(index, 0)], np.inf)


def oracle(unpruned: dict[int, pd.DataFrame], share: float) -> dict[int, pd.DataFrame]:
    """The unpruned runs as a pruner that knew every final score would have spent them: each search
    student that did not improve on the best stops after ``share`` of its updates, and as it is
    told the truth the search goes as it went. No rule stopping there can spend less."""
    bounded = {}
    for seed, run in unpruned.items():
        best = np.nan_to_num(run["best"].to_numpy(), nan=np.inf)
        kept = np.r_[True, best[1:] < best[:-1]] | (run["phase"] == "design").to_numpy()
        bounded[seed] = run.assign(image_epochs=np.where(kept, run["image_epochs"], run["image_epochs"] * share))
    return bounded


def compare(unpruned: dict[int, pd.DataFrame], pruned: dict[int, pd.DataFrame], first_probe: float) -> dict[str, Any]:
    """The two arms by compute on the seeds both have: median curves, the share to match (also of
    the :func:`oracle` stopping at ``first_probe``), and paired tests at ``COMPARED_AT``."""
    seeds = sorted(set(unpruned) & set(pruned))
    totals = [unpruned[s]["image_epochs"].sum() for s in seeds]  # equal unless a budget skips students
    total = float(np.median(totals))
    grid = np.linspace(0.0, max(totals), 401)
    final = float(np.median([unpruned[s]["best"].iloc[-1] for s in seeds]))

    def median_curve(runs: dict[int, pd.DataFrame]) -> np.ndarray:
        return np.median([best_at(runs[s], grid) for s in seeds], axis=0)

    def share_to_match(curve: np.ndarray) -> float | None:
        matched = np.flatnonzero(curve <= final)
        return float(grid[matched[0]] / total) if len(matched) else None

    curves = {"unpruned": median_curve(unpruned), "pruned": median_curve(pruned)}
    bound = oracle(unpruned, first_probe)
    paired = {}
    for share in COMPARED_AT:
        ours = np.array([best_at(pruned[s], np.array([share * total]))[0] for s in seeds])
        theirs = np.array([best_at(unpruned[s], np.array([share * total]))[0] for s in seeds])
        paired[f"{share:g}"] = {"pruned_median": float(np.median(ours)), "unpruned_median": float(np.median(theirs)),
                                **paired_test(ours - theirs)}
    pruned_rows = pd.concat([pruned[s] for s in seeds])
    stopped = pruned_rows[pruned_rows["pruned_at"].notna()]
    return {
        "n_seeds": len(seeds), "seeds": seeds, "unpruned_compute": total,
        "compute_share_to_match": share_to_match(curves["pruned"]),
        "unpruned_final_median": final,
        "pruned_final_median": float(np.median([pruned[s]["best"].iloc[-1] for s in seeds])),
        "pruned_compute_share": float(np.median([pruned[s]["image_epochs"].sum() for s in seeds]) / total),
        "pruned_students": int(len(stopped)), "students": int(len(pruned_rows)),
        "pruned_at_updates": {str(int(u)): int(n) for u, n in stopped["pruned_at"].value_counts().sort_index().items()},
        "wrong_prunes": int((stopped["final"] < stopped["best_before"]).sum()),
        "oracle_first_probe": first_probe, "oracle_compute_share_to_match": share_to_match(median_curve(bound)),
        "oracle_compute_share": float(np.median([bound[s]["image_epochs"].sum() for s in seeds]) / total),
        "paired": paired, "grid": grid, "curves": curves,
    }


def read_runs(folder: Path) -> dict[int, pd.DataFrame]:
    """The composite runs in ``folder`` by seed."""
    return {int(path.stem.rsplit("seed", 1)[1]): pd.read_csv(path) for path in sorted(folder.glob("composite-seed*.csv"))}


def main() -> None:
    parser = regime_suite_parser(__doc__.splitlines()[0])
    parser.add_argument("--regimes", nargs="+", default=["binding", "strict"], help="regimes to run")
    parser.add_argument("--seeds", nargs="+", default=["0-9"])
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE",
                        help="search.pruning settings to try instead of the project's (runs and records kept apart)")
    args = parser.parse_args()
    objective, fingerprint, params = proxy_objective_of(args)
    overrides = {key: json.loads(value) for key, value in (item.split("=", 1) for item in args.set)}
    params = params.model_copy(update={"pruning": PruningParams.model_validate({**params.pruning.model_dump(),
                                                                                **overrides})})
    variant = "".join(f"_{key}{'-'.join(map(str, value)) if isinstance(value, list) else value}"
                      for key, value in sorted(overrides.items()))
    regimes = json.loads((args.figures / "compare_proxy_regimes.json").read_text())
    unpruned = {regime: args.out / f"proxy-{fingerprint}-{regime}_{BUDGET}" for regime in regimes}
    pruned = {regime: folder.with_name(f"{folder.name}_pruning{variant}") for regime, folder in unpruned.items()}
    for regime in [] if args.report_only else args.regimes:
        view = objective.at(regimes[regime]["target"], Budget(max_macs_ratio=regimes[regime]["max_macs_ratio"]))
        for seed in parse_seeds(args.seeds):
            path = pruned[regime] / f"composite-seed{seed}.csv"
            if not path.exists():
                run_seed(f"proxy_{regime}_pruning", view, params, seed, path)
                print(f"{regime} seed {seed}: best {pd.read_csv(path)['best'].iloc[-1]:.4g}", flush=True)
    table, lines = [], []
    for regime in [regime for regime in regimes if pruned[regime].exists()]:
        result = compare(read_runs(unpruned[regime]), read_runs(pruned[regime]), params.pruning.at[0])
        grid, curves = result.pop("grid"), result.pop("curves")
        table += [{"regime": regime, "compute_share": share, "unpruned": u, "pruned": p}
                  for share, u, p in zip(grid / result["unpruned_compute"], curves["unpruned"], curves["pruned"])]
        record = {"regime": regime, "target": regimes[regime]["target"], "proxy_cache": fingerprint,
                  "pruning": params.pruning.model_dump(mode="json"), **result, "commit": head_commit(),
                  "machine": machine()}
        (args.figures / f"pruning_{regime}{variant}.json").write_text(json.dumps(record, indent=2) + "\n")
        lines.append(describe(regime, record))
    pd.DataFrame(table).to_csv(args.figures / f"pruning_regimes{variant}.csv", index=False)
    plot(pd.DataFrame(table)).savefig(args.figures / f"pruning_regimes{variant}.png", dpi=120)
    text = "\n".join([f"Probes at {params.pruning.at} of the updates (their cost: benchmarks/probe_cost.py).", "",
                      "| regime | seeds | unpruned final median | pruned final median | pruned arm's compute "
                      "| compute share to match | an oracle's share to match | students pruned | wrong prunes "
                      "| at 50 % compute: pruned ahead (p) | at 100 %: pruned ahead (p) |", "|---" * 11 + "|", *lines])
    (args.figures / f"pruning_regimes{variant}.md").write_text(text + "\n")
    print(text)


def plot(table: pd.DataFrame):
    """Median best log(Score) of both arms against the share of the unpruned arm's compute, a panel per regime."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    regimes = list(dict.fromkeys(table["regime"]))
    figure, axes = plt.subplots(1, len(regimes), figsize=(3.6 * len(regimes), 3.2), squeeze=False)
    for ax, regime in zip(axes[0], regimes):
        rows = table[(table["regime"] == regime) & np.isfinite(table["unpruned"]) & np.isfinite(table["pruned"])]
        for arm in ("unpruned", "pruned"):
            ax.plot(rows["compute_share"], rows[arm], label=arm, drawstyle="steps-post")
        ax.axvline(0.5, color="grey", linewidth=0.8, linestyle=":")
        ax.set(title=regime, xlabel="share of the unpruned search's compute", ylabel="median best log(Score)")
    axes[0][0].legend()
    figure.tight_layout()
    return figure


def describe(regime: str, record: dict[str, Any]) -> str:
    """One table row of a regime's record."""
    shares = [record[key] for key in ("compute_share_to_match", "oracle_compute_share_to_match")]
    paired = [record["paired"][f"{s:g}"] for s in COMPARED_AT]
    return (f"| {regime} | {record['n_seeds']} | {record['unpruned_final_median']:.3g} | "
            f"{record['pruned_final_median']:.3g} | {record['pruned_compute_share']:.0%} | "
            + " | ".join("never" if share is None else f"{share:.0%}" for share in shares)
            + f" | {record['pruned_students']}/{record['students']} | "
            f"{record['wrong_prunes']} | "
            + " | ".join(f"{p['wins']}/{record['n_seeds']} ({p['wilcoxon_p']:.3g})" for p in paired) + " |")


if __name__ == "__main__":
    main()
