"""Anytime curves and tables from ``compare_strategies.py``'s raw runs (one CSV per method and seed).

Reads whatever runs are there, so a report can be made while the benchmark still runs or
after it was killed; each method's statistics are over the seeds it has.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from common import paired_test  # noqa: E402

DEFAULT = "composite"  # search.strategy's default: the reference of the paired comparison
ORDER = ("composite", "turbo", "turbo_continuous", "tpe", "tpe_c", "gp", "gp_c", "nsga2", "motpe", "mogp", "lamcts",
         "evolution", "rl", "random")
LABELS = {"composite": "composite (default)", "turbo": "turbo (paper, type-aware)", "turbo_continuous": "turbo_continuous",
          "tpe": "Optuna TPE", "tpe_c": "Optuna TPE + constraint", "gp": "Optuna GP", "gp_c": "Optuna GP + constraint",
          "nsga2": "Optuna NSGA-II", "motpe": "Optuna TPE (multi-objective)", "mogp": "Optuna GP (multi-objective)",
          "lamcts": "LA-MCTS", "evolution": "reg. evolution", "rl": "REINFORCE", "random": "random"}
COLOURS = {"composite": "tab:red", "turbo": "tab:pink", "turbo_continuous": "tab:orange", "tpe": "tab:blue",
           "tpe_c": "navy", "gp": "tab:cyan", "gp_c": "teal", "nsga2": "olive", "motpe": "tab:blue", "mogp": "tab:cyan",
           "lamcts": "tab:green", "evolution": "tab:purple", "rl": "tab:brown", "random": "tab:gray"}


def load_runs(run_dir: Path) -> pd.DataFrame:
    """Every finished run under ``run_dir`` (``RUN_COLUMNS``), or an empty frame."""
    frames = [pd.read_csv(path, dtype={"key": str}) for path in sorted(Path(run_dir).glob("*.csv"))]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def best_so_far(runs: pd.DataFrame, method: str) -> tuple[list[int], np.ndarray]:
    """Seeds and their ``seeds x budget`` best-so-far values (a run that stopped early keeps its last best)."""
    chosen = runs[runs["method"] == method]
    budget = int(runs["budget"].max())
    seeds = sorted(chosen["seed"].unique())
    matrix = np.full((len(seeds), budget), np.nan)
    for row, seed in enumerate(seeds):
        best = chosen[chosen["seed"] == seed].sort_values("evaluation")["best"].to_numpy()
        matrix[row, : len(best)] = best
        matrix[row, len(best):] = best[-1] if len(best) else np.nan
    return seeds, matrix


def ordered(methods) -> list[str]:
    """``methods`` in the report's order: ``ORDER`` first, any others after, by name."""
    present = set(methods)
    return [m for m in ORDER if m in present] + sorted(present - set(ORDER))


def methods_in(runs: pd.DataFrame) -> list[str]:
    return ordered(runs["method"])


def curves(runs: pd.DataFrame) -> pd.DataFrame:
    """Per method and evaluation: median, lower and upper quartile of the best so far over seeds."""
    rows = []
    for method in methods_in(runs):
        seeds, matrix = best_so_far(runs, method)
        q25, median, q75 = np.nanpercentile(matrix, [25, 50, 75], axis=0)
        rows.append(pd.DataFrame({"method": method, "evaluation": np.arange(1, matrix.shape[1] + 1),
                                  "median": median, "q25": q25, "q75": q75, "n_seeds": len(seeds)}))
    return pd.concat(rows, ignore_index=True)


def hitting_evaluations(matrix: np.ndarray, target: float) -> np.ndarray:
    """Per seed, the first evaluation whose best so far is <= ``target`` (inf: never)."""
    reached = matrix <= target + 1e-12
    return np.where(reached.any(axis=1), reached.argmax(axis=1) + 1.0, np.inf)


def summary(runs: pd.DataFrame, checkpoints: list[int], optimum_known: bool) -> pd.DataFrame:
    """One row per method: seeds, best at each checkpoint and at the end (median, quartiles),
    evaluations to reach random search's final median best, optimizer seconds per evaluation."""
    budget = int(runs["budget"].max())
    target = None
    if "random" in set(runs["method"]):
        target = float(np.nanmedian(best_so_far(runs, "random")[1][:, -1]))
    best_known = float(runs["best"].min())
    rows = []
    for method in methods_in(runs):
        seeds, matrix = best_so_far(runs, method)
        row: dict = {"method": method, "seeds": len(seeds)}
        for at in [c for c in checkpoints if c < budget] + [budget]:
            q25, median, q75 = np.nanpercentile(matrix[:, at - 1], [25, 50, 75])
            row[f"best@{at}"] = median
            row[f"q25@{at}"], row[f"q75@{at}"] = q25, q75
        if not optimum_known:
            row["gap_to_best_known"] = float(np.nanmedian(matrix[:, -1])) - best_known
        if target is not None:
            hits = hitting_evaluations(matrix, target)
            row["evals_to_random_final_median"] = float(np.median(hits))
            row["seeds_reaching_it"] = int(np.isfinite(hits).sum())
        chosen = runs[(runs["method"] == method) & (runs["phase"] == "search")]
        per_seed = chosen.groupby("seed")["optimizer_seconds"].mean()
        row["optimizer_s_per_eval"] = float(per_seed.median()) if len(per_seed) else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def markdown(table: pd.DataFrame, checkpoints: list[int], budget: int, optimum_known: bool) -> str:
    """The summary as a Markdown table: median [lower quartile, upper quartile]."""
    what = "regret" if optimum_known else "log(Score)"
    ats = [c for c in checkpoints if c < budget] + [budget]
    header = ["method", "seeds"] + [f"best {what} @{at}: median [IQR]" for at in ats]
    if "gap_to_best_known" in table:
        header.append("median gap to best known")
    if "evals_to_random_final_median" in table:
        header.append("evals to reach random's final median (seeds reaching it)")
    header.append("ask+tell s / eval")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for _, row in table.iterrows():
        cells = [LABELS.get(row["method"], row["method"]), str(row["seeds"])]
        cells += [f"{row[f'best@{at}']:.3g} [{row[f'q25@{at}']:.3g}, {row[f'q75@{at}']:.3g}]" for at in ats]
        if "gap_to_best_known" in table:
            cells.append(f"{row['gap_to_best_known']:.3g}")
        if "evals_to_random_final_median" in table:
            hits = row["evals_to_random_final_median"]
            cells.append(f"{'>' + str(budget) if np.isinf(hits) else int(hits)} ({row['seeds_reaching_it']}/{row['seeds']})")
        cells.append(f"{row['optimizer_s_per_eval']:.3g}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def paired(final: pd.DataFrame, reference: str = DEFAULT) -> pd.DataFrame:
    """``reference`` against every other method on the seeds both ran, from ``final`` (seeds x
    methods: each run's best): compared seed by seed (wins = ``reference`` lower), the median
    difference and a two-sided Wilcoxon signed-rank p-value (NaN when every pair is tied)."""
    rows = []
    for method in [m for m in ordered(final.columns) if m != reference]:
        both = final[[reference, method]].dropna()
        rows.append({"reference": reference, "method": method, "seeds": len(both),
                     **paired_test(both[reference] - both[method])})
    return pd.DataFrame(rows)


def final_bests(runs: pd.DataFrame) -> pd.DataFrame:
    """Seeds x methods: each run's best at the end of its budget."""
    return runs.sort_values("evaluation").groupby(["method", "seed"])["best"].last().unstack("method")


def compute_unit(runs: pd.DataFrame) -> float:
    """Image-epochs of one trained evaluation (every method trains at the same fidelity)."""
    return float(runs["image_epochs"].max())


def best_by_compute(runs: pd.DataFrame, method: str, grid: np.ndarray) -> tuple[list[int], np.ndarray]:
    """Seeds and their ``seeds x len(grid)`` best values once ``grid`` units of proxy compute were
    spent (NaN before the first trained evaluation; a run keeps its last best past its end)."""
    chosen = runs[runs["method"] == method]
    seeds = sorted(chosen["seed"].unique())
    unit = compute_unit(runs)
    matrix = np.full((len(seeds), len(grid)), np.nan)
    for row, seed in enumerate(seeds):
        run = chosen[chosen["seed"] == seed].sort_values("evaluation")
        spent = run["image_epochs"].fillna(0).cumsum().to_numpy() / unit
        last = np.searchsorted(spent, grid + 1e-9, side="right") - 1
        best = run["best"].to_numpy()
        matrix[row] = np.where(last >= 0, best[np.maximum(last, 0)], np.nan)
    return seeds, matrix


def compute_report(runs: pd.DataFrame) -> tuple[pd.DataFrame, str, pd.DataFrame]:
    """The compute axis: median curves over units of one trained evaluation, and a table of every
    method's best at the compute every run reached (methods that skip over-budget candidates
    spend less per evaluation), with the default's paired comparison at that compute."""
    unit = compute_unit(runs)
    totals = runs.groupby(["method", "seed"])["image_epochs"].sum() / unit
    grid = np.arange(1, int(np.ceil(totals.max())) + 1, dtype=float)
    equal = float(np.floor(totals.min()))
    rows, at_equal = [], {}
    for method in methods_in(runs):
        seeds, matrix = best_by_compute(runs, method, grid)
        q25, median, q75 = np.nanpercentile(matrix, [25, 50, 75], axis=0)
        rows.append(pd.DataFrame({"method": method, "compute": grid, "median": median, "q25": q25, "q75": q75,
                                  "n_seeds": len(seeds)}))
        at_equal[method] = pd.Series(best_by_compute(runs, method, np.array([equal]))[1][:, 0], index=seeds)
    curve = pd.concat(rows, ignore_index=True)
    lines = [f"Proxy compute: one unit is one trained evaluation ({unit:,.0f} image-epochs); candidates skipped as "
             f"over budget cost nothing. Every run reached {equal:g} units.", "",
             f"| method | seeds | compute spent (units): median | best log(Score) @{equal:g} units: median [IQR] |",
             "|---|---|---|---|"]
    for method in methods_in(runs):
        q25, median, q75 = np.nanpercentile(at_equal[method], [25, 50, 75])
        lines.append(f"| {LABELS.get(method, method)} | {len(at_equal[method])} | {totals[method].median():.3g} | "
                     f"{median:.3g} [{q25:.3g}, {q75:.3g}] |")
    pairs = paired(pd.DataFrame(at_equal)) if DEFAULT in at_equal and len(at_equal) > 1 else pd.DataFrame()
    if not pairs.empty:
        lines += ["", f"At {equal:g} units of compute:", "", paired_markdown(pairs)]
    return curve, "\n".join(lines), pairs


def paired_markdown(table: pd.DataFrame) -> str:
    lines = ["| default vs | seeds | wins / ties / losses | median difference | Wilcoxon p (two-sided) |",
             "|---|---|---|---|---|"]
    for _, row in table.iterrows():
        lines.append(f"| {LABELS.get(row['method'], row['method'])} | {row['seeds']} | "
                     f"{row['wins']} / {row['ties']} / {row['losses']} | {row['median_difference']:.3g} | "
                     f"{row['wilcoxon_p']:.3g} |")
    return "\n".join(lines)


def plot(curve: pd.DataFrame, design_size: int | None, title: str, ylabel: str, path: Path, x: str = "evaluation",
         xlabel: str = "evaluations") -> None:
    """Median best so far per method with its interquartile band, against ``x``."""
    figure, axes = plt.subplots(figsize=(9.5, 4.5))
    for method in [m for m in ORDER if m in set(curve["method"])] + sorted(set(curve["method"]) - set(ORDER)):
        part = curve[curve["method"] == method]
        colour = COLOURS.get(method)
        label = f"{LABELS.get(method, method)} (n={int(part['n_seeds'].iloc[0])})"
        axes.plot(part[x], part["median"], color=colour, label=label, lw=2 if method == DEFAULT else 1.3)
        axes.fill_between(part[x], part["q25"], part["q75"], color=colour, alpha=0.12, lw=0)
    if design_size is not None:
        axes.axvline(design_size + 0.5, color="k", ls=":", lw=1)
        axes.text(design_size + 1, axes.get_ylim()[1], " shared design", va="top", fontsize=8)
    positive = curve["q25"].min() > 0 and curve["median"].max() / curve["q25"].min() > 20
    if positive:
        axes.set_yscale("log")
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_curves(runs: pd.DataFrame, figures: Path, stem: str, title: str, ylabel: str) -> None:
    """Each method's median best so far over seeds, with quartiles, as ``<stem>.csv`` and ``.png``."""
    figures.mkdir(parents=True, exist_ok=True)
    curve = curves(runs)
    curve.to_csv(figures / f"{stem}.csv", index=False, float_format="%.6g")
    design_size = int((runs[(runs["seed"] == runs["seed"].min())
                            & (runs["method"] == runs["method"].iloc[0])]["phase"] == "design").sum())
    plot(curve, design_size, f"{title}: median and interquartile range over seeds", ylabel, figures / f"{stem}.png")


def write_report(run_dir: Path, figures: Path, stem: str, title: str, optimum_known: bool,
                 checkpoints: list[int]) -> str:
    """Writes ``<figures>/<stem>.png``, ``.csv`` (curves) and ``.md`` (tables), and where runs
    record their proxy compute ``<stem>_compute.png`` / ``.csv``; returns the tables."""
    runs = load_runs(run_dir)
    if runs.empty:
        return f"no runs under {run_dir} yet"
    budget = int(runs["budget"].max())
    ylabel = "best value so far = regret (optimum 0)" if optimum_known else "best log(Score) so far (Eq. 2)"
    write_curves(runs, figures, stem, title, ylabel)
    table = markdown(summary(runs, checkpoints, optimum_known), checkpoints, budget, optimum_known)
    if DEFAULT in set(runs["method"]) and len(set(runs["method"])) > 1:
        pairs = paired(final_bests(runs))
        pairs.to_csv(figures / f"{stem}_paired.csv", index=False, float_format="%.6g")
        table += "\n\n" + paired_markdown(pairs)
    if "image_epochs" in runs and runs["image_epochs"].notna().any():
        compute_curve, compute_table, compute_pairs = compute_report(runs)
        compute_curve.to_csv(figures / f"{stem}_compute.csv", index=False, float_format="%.6g")
        if not compute_pairs.empty:
            compute_pairs.to_csv(figures / f"{stem}_compute_paired.csv", index=False, float_format="%.6g")
        plot(compute_curve, None, f"{title}: best against proxy compute", ylabel, figures / f"{stem}_compute.png",
             x="compute", xlabel="proxy compute (units of one trained evaluation)")
        table += "\n\n" + compute_table
    (figures / f"{stem}.md").write_text(table + "\n")
    return table


def write_pareto_report(run_dir: Path, figures: Path, stem: str, title: str) -> str:
    """As :func:`write_report` for searches of a front, whose ``best`` is the hypervolume so far
    (higher is better): ``<stem>.png`` / ``.csv`` (median and quartiles per evaluation), the table
    and ``<stem>_paired.csv`` (a negative median difference, or a win, is the default ahead)."""
    runs = load_runs(run_dir)
    if runs.empty:
        return f"no runs under {run_dir} yet"
    budget = int(runs["budget"].max())
    write_curves(runs, figures, stem, title, "hypervolume of accuracy (%) against s so far (higher is better)")
    final = final_bests(runs)
    lines = [f"| method | seeds | hypervolume @{budget}: median [IQR] | ask+tell s / eval |", "|---|---|---|---|"]
    for method in methods_in(runs):
        q25, median, q75 = np.nanpercentile(final[method].dropna(), [25, 50, 75])
        seconds = runs[(runs["method"] == method) & (runs["phase"] == "search")].groupby("seed")["optimizer_seconds"]
        lines.append(f"| {LABELS.get(method, method)} | {final[method].notna().sum()} | {median:.4g} [{q25:.4g}, "
                     f"{q75:.4g}] | {seconds.mean().median():.3g} |")
    table = "\n".join(lines)
    if DEFAULT in final and len(final.columns) > 1:
        pairs = paired(-final)  # lower -hypervolume: the default's front dominates more
        pairs.to_csv(figures / f"{stem}_paired.csv", index=False, float_format="%.6g")
        table += "\n\nHypervolume, paired by seed (a win: the default's is higher):\n\n" + paired_markdown(pairs)
    (figures / f"{stem}.md").write_text(table + "\n")
    return table


def write_target_report(run_dir: Path, eq2_runs: dict[str, Path], regimes: dict[str, dict], objective, figures: Path,
                        stem: str) -> str:
    """One search of the front for every target: per regime (``eq2_runs``: its Eq. 2 runs) and front
    search method, Eq. 2's best log(Score) among the students the run evaluated at the regime's
    target (the front holds it) against the default's Eq. 2 search there, paired by seed (a
    negative difference: the front's is better). Writes ``<stem>.csv`` and ``.md``."""
    runs = load_runs(run_dir)
    rows = []
    for regime, eq2_dir in eq2_runs.items():
        score = objective.at(regimes[regime]["target"]).score
        eq2 = load_runs(eq2_dir)
        if eq2.empty or runs.empty:
            continue
        searched = final_bests(eq2)[DEFAULT].dropna()
        for method in methods_in(runs):
            read = {}
            for seed, run in runs[runs["method"] == method].groupby("seed"):
                values = [score.log_value(row["proxy_accuracy"], row["resource_ratio"])
                          for key in run["key"] if (row := objective.rows.get(key)) and row["status"] == "ok"]
                read[seed] = np.nanmin(values)
            both = pd.DataFrame({"front": pd.Series(read), "eq2": searched}).dropna()
            rows.append({"regime": regime, "target": regimes[regime]["target"], "method": method, "seeds": len(both),
                         "front_median": float(both["front"].median()), "eq2_median": float(both["eq2"].median()),
                         **paired_test(both["front"] - both["eq2"])})
    table = pd.DataFrame(rows)
    table.to_csv(figures / f"{stem}.csv", index=False, float_format="%.6g")
    lines = ["| regime (target) | front searched by | seeds | best log(Score) read off the front: median | "
             "Eq. 2 search at the target (composite): median | front better / ties / worse | Wilcoxon p |",
             "|---|---|---|---|---|---|---|"]
    for _, row in table.iterrows():
        lines.append(f"| {row['regime']} ({row['target']:.3g}) | {LABELS.get(row['method'], row['method'])} | "
                     f"{row['seeds']} | {row['front_median']:.3g} | {row['eq2_median']:.3g} | {row['wins']} / "
                     f"{row['ties']} / {row['losses']} | {row['wilcoxon_p']:.3g} |")
    (figures / f"{stem}.md").write_text("\n".join(lines) + "\n")
    return "\n".join(lines)
