"""Does a fidelity ladder reach the same students for less proxy compute?

Runs the product's own search loop (``search.runner.run_search``) with the default strategy
twice per seed, on the ``proxy`` problem of ``compare_strategies.py`` (the project at
``--project`` at a reduced fidelity, every architecture memoised per rung in
``proxy_objective.CachedObjective``'s JSON-lines cache):

  * ``single``: ``--single-trials`` candidates of batch ``--single-batch`` on the full proxy task;
  * ``ladder``: ``search.fidelity`` with ``--rungs`` and ``--eta``, batches (brackets) of
    ``--ladder-batch``, ``--ladder-trials`` candidates.

Compute is counted in training images seen (``image_epochs`` of each trial row: the rung's
share of the proxy data x epochs), and reported in units of one full-rung evaluation. The best
so far is the lowest log(Score) of a student scored on the full proxy task (a lower rung's
accuracy is on another scale). One CSV per (config, seed) under ``--out`` (a row per
evaluation), skipped when present, so a killed benchmark resumes; the report (also alone with
``--report-only``) writes ``docs/figures/<--record>.{csv,json,md,png}`` (default ``multi_fidelity``).

``--retrain`` then retrains each run's final best student with the project's ``retrain.recipe``
(Table 2's, with KD, seed 0; the single-fidelity seed-0 student also with ``--noise-seeds`` to
show the seed noise) and writes ``docs/figures/<--record>_retrain.{csv,md}``: test top-1 of the
ladder's student against single's, seed by seed. Checkpoints under ``--out``, so it resumes.

    python benchmarks/multi_fidelity.py --project /tmp/bench --seeds 0-9 --proxy-epochs 2 \\
        --proxy-fraction 0.5 --acc-target 50 [--retrain]
"""
from __future__ import annotations

import argparse
import json
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from trade_pipeline.retrain.session import run_retrain  # noqa: E402
from trade_pipeline.search.checkpoint import search_fingerprint  # noqa: E402
from trade_pipeline.search.fidelity import FidelityParams  # noqa: E402
from trade_pipeline.search.objective import Candidate  # noqa: E402
from trade_pipeline.search.runner import run_search  # noqa: E402
from trade_pipeline.search.score import KDGuidedScore  # noqa: E402
from trade_pipeline.search.session import objective_context  # noqa: E402
from trade_pipeline.search.trials import TRIAL_COLUMNS  # noqa: E402

from proxy_objective import CachedObjective, load_project, proxy_objective  # noqa: E402
from common import head_commit, machine, paired_test  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = ["config", "seed", "trial_id", "iteration", "rung", "status", "spec_hash", "proxy_accuracy", "log_score",
           "image_epochs"]


def parse_seeds(text: str) -> list[int]:
    low, _, high = text.partition("-")
    return list(range(int(low), int(high or low) + 1))


def memoised(objectives: list[CachedObjective], rungs: list[float], acc_target: float):
    """``evaluate(candidate, device)`` for ``run_search``: the cached row of the candidate's
    architecture at its rung, scored at ``acc_target``, under the candidate's ids."""
    def evaluate(candidate: Candidate, device: str) -> dict[str, Any]:
        cached = objectives[candidate.rung]
        row = {column: cached.row(candidate.point).get(column) for column in TRIAL_COLUMNS}
        trained = row["status"] != "over_budget"
        row.update(trial_id=candidate.trial_id, iteration=candidate.iteration, strategy="composite",
                   encoding=list(candidate.point), trust_region=candidate.trust_region, rung=candidate.rung,
                   fidelity=rungs[candidate.rung], predicted_accuracy=candidate.predicted_accuracy,
                   predicted_latency_ms=candidate.predicted_latency_ms, p_feasible=candidate.p_feasible,
                   guided=candidate.guided,
                   image_epochs=cached.images_per_evaluation if trained else None)
        if row["status"] == "ok":
            score = KDGuidedScore(acc_target, cached.context.epsilon)
            row.update(score=score.value(row["proxy_accuracy"], row["resource_ratio"]),
                       log_score=score.log_value(row["proxy_accuracy"], row["resource_ratio"]))
        return row
    return evaluate


def run_one(config: str, seed: int, args: argparse.Namespace, inputs, objectives: dict[float, CachedObjective]) -> pd.DataFrame:
    ladder = config == "ladder"
    rungs = args.rungs if ladder else [1.0]
    search = inputs.search.model_copy(update={
        "proxy": objectives[1.0].context.proxy, "seed": seed, "resume": False, "strategy": "composite",
        "n_trials": args.ladder_trials if ladder else args.single_trials,
        "batch_size": args.ladder_batch if ladder else args.single_batch,
        "fidelity": FidelityParams(rungs=rungs, eta=args.eta),
        "score": inputs.search.score.model_copy(update={"acc_target": args.acc_target}),
    })
    with tempfile.TemporaryDirectory() as state_dir:
        search = search.model_copy(update={"state_dir": state_dir})
        context = objective_context(inputs.split, inputs.teacher_profile, inputs.teacher_logits, search)
        fingerprint = search_fingerprint(search, inputs.teacher_logits["teacher"], inputs.split.fingerprint)
        evaluate = memoised([objectives[rung] for rung in rungs], rungs, args.acc_target)
        trials = run_search(context, search, fingerprint, evaluate=evaluate).trials
    trials = trials.assign(config=config, seed=seed)
    return trials[COLUMNS]


def curves(runs: pd.DataFrame, unit: float, grid: np.ndarray, top: int) -> dict[tuple[str, int], np.ndarray]:
    """Per (config, seed): the best full-rung log(Score) once ``grid`` units of compute were spent
    (``top``: the ladder's full rung)."""
    out = {}
    for (config, seed), run in runs.groupby(["config", "seed"]):
        run = run.sort_values("trial_id")
        spent = run["image_epochs"].fillna(0).cumsum().to_numpy() / unit
        full_rung = run["rung"] == (top if config == "ladder" else 0)
        full = np.where(full_rung & (run["status"] == "ok"), run["log_score"], np.nan)
        best = np.fmin.accumulate(np.where(np.isnan(full), np.inf, full))
        out[(config, int(seed))] = np.array([best[spent <= at][-1] if (spent <= at).any() else np.inf for at in grid])
    return out


def paired(difference: np.ndarray, whose: str = "") -> str:
    """Wins (negative differences: lower is better), ties and losses, the median difference and a
    two-sided Wilcoxon signed-rank p-value, as one clause."""
    test = paired_test(difference)
    return (f"{test['wins']} wins, {test['ties']} ties, {test['losses']} losses{whose} (median difference "
            f"{test['median_difference']:.3g}, Wilcoxon p {test['wilcoxon_p']:.3g})")


@dataclass
class Summary:
    """What the report says, per seed and as medians over seeds, in units of one full-rung evaluation."""

    table: pd.DataFrame  # config, compute, median_best, q25, q75 on the compute grid
    seeds: list[int]
    unit: float  # training images of one full-rung evaluation
    single_spent: float  # single fidelity's median compute
    target: float  # single's final median best log(Score)
    half: float  # the grid point at 50 % of single's compute
    equal_at: float  # the grid point at single's compute
    single_final: np.ndarray  # per seed
    at_half: np.ndarray  # the ladder's best at ``half``, per seed
    at_equal: np.ndarray  # the ladder's best at ``equal_at``, per seed


def summarise(runs: pd.DataFrame, top: int) -> Summary:
    """Both configs' best-so-far curves on one compute grid (``top``: the ladder's full rung)."""
    full_rung = runs[(runs["config"] == "single") & runs["image_epochs"].notna()]
    unit = float(full_rung["image_epochs"].median())
    end = float(runs.groupby(["config", "seed"])["image_epochs"].sum().max()) / unit
    grid = np.linspace(0, end, 201)
    best = curves(runs, unit, grid, top)
    seeds = sorted(set(runs[runs["config"] == "single"]["seed"]) & set(runs[runs["config"] == "ladder"]["seed"]))
    single_spent = runs[runs["config"] == "single"].groupby("seed")["image_epochs"].sum().median() / unit
    rows = []
    for config in ("single", "ladder"):
        matrix = np.array([best[(config, seed)] for seed in seeds])
        matrix = np.where(np.isinf(matrix), np.nan, matrix)
        for at, value in zip(grid, np.nanmedian(matrix, axis=0)):
            rows.append({"config": config, "compute": at, "median_best": value,
                         "q25": np.nanpercentile(matrix[:, grid == at], 25), "q75": np.nanpercentile(matrix[:, grid == at], 75)})
    half = grid[np.searchsorted(grid, 0.5 * single_spent, side="right") - 1]
    equal_at = grid[grid <= single_spent][-1]
    single_final = np.array([best[("single", seed)][-1] for seed in seeds])
    return Summary(pd.DataFrame(rows), seeds, unit, single_spent, float(np.nanmedian(single_final)), half, equal_at,
                   single_final, np.array([best[("ladder", seed)][grid == half][0] for seed in seeds]),
                   np.array([best[("ladder", seed)][grid == equal_at][0] for seed in seeds]))


def describe(summary: Summary) -> str:
    """The report's Markdown: the table of medians and the paired comparisons."""
    table, seeds = summary.table, summary.seeds
    ladder_median = table[table["config"] == "ladder"]
    reached = ladder_median[ladder_median["median_best"] <= summary.target]["compute"]
    lines = [f"Seeds {seeds[0]}-{seeds[-1]} ({len(seeds)}); one unit = one full-rung evaluation "
             f"({summary.unit:.0f} training images); single-fidelity compute {summary.single_spent:.1f} units.", "",
             "| config | median best log(Score) at 50 % of single's compute | at single's compute | at the end | "
             "compute for the median to reach single's final median |", "|---|---|---|---|---|"]
    for config in ("single", "ladder"):
        median = table[table["config"] == config].set_index("compute")["median_best"]
        reach = table[(table["config"] == config) & (table["median_best"] <= summary.target)]["compute"]
        lines.append(f"| {config} | {median[summary.half]:.3f} | {median[summary.equal_at]:.3f} | {median.iloc[-1]:.3f} | "
                     f"{f'{reach.min():.1f} units' if len(reach) else 'not reached'} |")
    lines.append("")
    lines.append(f"Ladder at 50 % of the compute against single at 100 %, seed by seed: "
                 f"{paired(summary.at_half - summary.single_final)}; "
                 + (f"the ladder's median reaches single's final median ({summary.target:.3f}) at {reached.min():.1f} units."
                    if len(reached) else f"the ladder's median never reaches single's final median ({summary.target:.3f})."))
    lines.append("")
    lines.append(f"At equal compute ({summary.single_spent:.0f} units each), seed by seed: "
                 f"{paired(summary.at_equal - summary.single_final, ' for the ladder')}.")
    return "\n".join(lines) + "\n"


def plot(summary: Summary, args: argparse.Namespace) -> plt.Figure:
    """Median best log(Score) against compute, with the interquartile band, for both configs."""
    figure, axes = plt.subplots(figsize=(8, 4.2))
    for config, colour in (("single", "tab:blue"), ("ladder", "tab:orange")):
        part = summary.table[summary.table["config"] == config]
        axes.plot(part["compute"], part["median_best"], color=colour, label=config)
        axes.fill_between(part["compute"], part["q25"], part["q75"], color=colour, alpha=0.2)
    axes.axvline(summary.single_spent, color="grey", linestyle=":", linewidth=1)
    axes.set_xlabel("proxy compute (full-rung evaluations)")
    axes.set_ylabel("best log(Score), full rung (median, IQR)")
    axes.set_title(f"Fidelity ladder {args.rungs} (eta {args.eta}) against single fidelity, {len(summary.seeds)} seeds")
    axes.legend()
    figure.tight_layout()
    return figure


def report(runs: pd.DataFrame, args: argparse.Namespace) -> str:
    """Writes ``docs/figures/<record>.{csv,png,md,json}`` and returns the Markdown."""
    summary = summarise(runs, len(args.rungs) - 1)
    figures = ROOT / "docs" / "figures"
    summary.table.to_csv(figures / f"{args.record}.csv", index=False)
    plot(summary, args).savefig(figures / f"{args.record}.png", dpi=120)
    text = describe(summary)
    (figures / f"{args.record}.md").write_text(text)
    per_seed = [{"seed": seed, "single_final": float(a), "ladder_at_half": float(b), "ladder_at_equal": float(c)}
                for seed, a, b, c in zip(summary.seeds, summary.single_final, summary.at_half, summary.at_equal)]
    record = {"settings": {k: v for k, v in vars(args).items() if k not in ("project", "out", "report_only", "record")},
              "commit": head_commit(), "machine": machine(), "unit_images": summary.unit, "per_seed_best_log_score": per_seed}
    (figures / f"{args.record}.json").write_text(json.dumps(record, indent=2, default=str) + "\n")
    return text


def selected_students(runs: pd.DataFrame, args: argparse.Namespace) -> pd.DataFrame:
    """Per (config, seed): the final best full-rung student, as the search would select it."""
    top = len(args.rungs) - 1
    full = runs[(runs["status"] == "ok") & (runs["rung"] == runs["config"].map({"single": 0, "ladder": top}))]
    full = full.reset_index(drop=True)  # one label per row: the runs come from one CSV each
    return full.loc[full.groupby(["config", "seed"])["log_score"].idxmin(), ["config", "seed", "spec_hash", "log_score"]]


def retrain_selected(runs: pd.DataFrame, args: argparse.Namespace, inputs, cached: CachedObjective, out: Path) -> str:
    """Retrains every run's selected student (Table 2's recipe, KD) and compares test top-1 seed by seed."""
    selected = selected_students(runs, args)
    teacher = inputs.teachers[inputs.teacher_logits["teacher"]]()
    rows = []
    for _, student in selected.iterrows():
        row = cached.rows[student["spec_hash"]]
        seeds = args.noise_seeds if (student["config"], student["seed"]) == ("single", 0) else [0]
        params = inputs.retrain.model_copy(update={
            "students": 1, "baselines": [], "trained_by": ["distill"], "seeds": seeds, "resume": True,
            "checkpoint_dir": str(out / "retrain" / student["spec_hash"])})
        entry = {"block_sequence": row["block_sequence"], "spec": json.loads(row["spec_json"])}
        for result in run_retrain([entry], {}, inputs.split, teacher, inputs.teacher_logits, params).results:
            rows.append({**student.to_dict(), "block_sequence": row["block_sequence"], "params": row["params"],
                         "retrain_seed": result["seed"], "top1": result["top1"]})
    table = pd.DataFrame(rows)
    figures = ROOT / "docs" / "figures"
    table.to_csv(figures / f"{args.record}_retrain.csv", index=False)
    first = table[table["retrain_seed"] == 0].pivot(index="seed", columns="config", values="top1").dropna()
    noise = table[(table["config"] == "single") & (table["seed"] == 0)]["top1"]
    difference = (first["single"] - first["ladder"]).to_numpy()  # negative: the ladder's student is more accurate
    text = (f"Each run's final best student retrained with `retrain.recipe` (KD, seed 0), test top-1 %: single "
            f"median {first['single'].median():.2f}, ladder median {first['ladder'].median():.2f}, over "
            f"{len(first)} seeds. Single minus ladder, seed by seed: {paired(difference, ' for the ladder')}. "
            f"Seed noise: single seed 0's student retrained with seeds {args.noise_seeds} spans "
            f"{noise.min():.2f}-{noise.max():.2f} % (std {noise.std(ddof=1):.2f}). Retrained at commit {head_commit()} "
            f"on {machine()}.\n")
    (figures / f"{args.record}_retrain.md").write_text(text)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("--seeds", default="0-9")
    parser.add_argument("--proxy-epochs", type=int, default=2)
    parser.add_argument("--proxy-fraction", type=float, default=0.5)
    parser.add_argument("--acc-target", type=float, default=50.0)
    parser.add_argument("--single-trials", type=int, default=50)
    parser.add_argument("--single-batch", type=int, default=4)
    parser.add_argument("--ladder-trials", type=int, default=72)
    parser.add_argument("--ladder-batch", type=int, default=6)
    parser.add_argument("--rungs", type=float, nargs="+", default=[0.33, 1.0])
    parser.add_argument("--eta", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "benchmarks" / "multi_fidelity")
    parser.add_argument("--record", default="multi_fidelity", help="docs/figures/<RECORD>.{csv,md,json,png}")
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--retrain", action="store_true", help="retrain each run's selected student (Table 2's recipe)")
    parser.add_argument("--noise-seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    name = f"e{args.proxy_epochs}-f{args.proxy_fraction}-t{args.acc_target:g}-r{'_'.join(map(str, args.rungs))}-eta{args.eta}"
    out = args.out / name
    if not args.report_only or args.retrain:
        inputs = load_project(args.project)
        cache_dir = args.out.parent / "compare_strategies" / "proxy-cache"
        objectives = {rung: proxy_objective(args.project, cache_dir, args.proxy_epochs, args.proxy_fraction * rung,
                                            args.acc_target)[0] for rung in args.rungs}
    if not args.report_only:
        out.mkdir(parents=True, exist_ok=True)
        for seed in parse_seeds(args.seeds):
            for config in ("single", "ladder"):
                path = out / f"{config}-seed{seed}.csv"
                if not path.exists():
                    run_one(config, seed, args, inputs, objectives).to_csv(path, index=False)
                    print(f"{path.name} done", flush=True)
    runs = pd.concat([pd.read_csv(path, dtype={"spec_hash": str}) for path in sorted(out.glob("*.csv"))])
    if not (args.report_only and args.retrain):  # the runs' report keeps the commit they were made at
        print(report(runs, args))
    if args.retrain:
        print(retrain_selected(runs, args, inputs, objectives[1.0], out))


if __name__ == "__main__":
    main()
