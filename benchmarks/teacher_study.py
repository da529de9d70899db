"""Which students does each teacher lead to? (paper Table 6, App. D.2 Q1 and Q2)

Runs the project's search (its ``search`` parameters, e.g. conf/base's 50-trial TuRBO) once
per saved teacher, distilling from that teacher's logits, and once more with a second seed
for one teacher (default: the project's ``teacher.search_teacher``). Then tabulates what
each run found: the best architecture's block sequence (Table 6's notation, FMB / MB / T),
the block sequences of the three best, and the block mix of the ten best scores.

``--table5`` then retrains, distilled from every teacher in turn, the best student of each
teacher's seed-0 search (``trade_<k>``: searched with the k-th teacher) and the project's
``retrain.baselines``, with its ``retrain.recipe`` (seed 0): paper Table 5, students x teachers,
test top-1 (``docs/figures/table5.{csv,md}``). Checkpoints under ``--out``, so it resumes.

Q1: do different teachers lead to different block mixes? Q2: do two seeds with the same
teacher converge to similar architectures?

Each search keeps its durable state under ``--out/<teacher>-seed<k>`` and resumes when rerun;
the table (``docs/figures/teacher_study.md``, ``.csv``) and a bar chart of the block mix
(``.png``) are made from the runs there.

    nice -n 10 python benchmarks/teacher_study.py --project /tmp/bench_project [--table5]
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

from trade_pipeline.retrain.session import run_retrain  # noqa: E402
from trade_pipeline.search.pareto import select_architectures  # noqa: E402
from trade_pipeline.search.session import run_trade_search  # noqa: E402
from trade_pipeline.teachers.logits import logit_cache  # noqa: E402

from proxy_objective import ProjectInputs, load_project  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TOP = 10  # candidates whose block mix is tabulated


def run_study(inputs: ProjectInputs, runs: list[tuple[str, int]], n_trials: int | None, out: Path) -> None:
    """One search per (teacher, seed), resumed from ``out/<teacher>-seed<seed>`` if it is there."""
    teacher_params = inputs.teacher_params
    for teacher, seed in runs:
        state_dir = out / f"{teacher}-seed{seed}"
        trials = n_trials or inputs.search.n_trials
        if len(read_trials(state_dir)) >= trials:
            continue
        model = inputs.teachers[teacher]().model
        logits = logit_cache(teacher, model, inputs.split, teacher_params.batch_size, teacher_params.device)
        params = inputs.search.model_copy(update={"seed": seed, "n_trials": trials, "state_dir": str(state_dir),
                                                  "resume": True})
        outcome = run_trade_search(inputs.split, inputs.teacher_profile, logits, params)
        print(f"{teacher} seed={seed}: {outcome.summary}", flush=True)


def read_trials(state_dir: Path) -> pd.DataFrame:
    path = state_dir / "trials.jsonl"
    if not path.exists():
        return pd.DataFrame()
    return pd.DataFrame([json.loads(line) for line in path.read_text().splitlines() if line.strip()])


def block_counts(sequence: str) -> dict[str, float]:
    """FMB and MB blocks and Transformer layers in a block sequence such as ``FMB-MB-T(x2)``."""
    parts = sequence.split("-")
    depth = sum(int(m.group(1)) for m in (re.fullmatch(r"T\(x(\d+)\)", p) for p in parts) if m)
    return {"FMB": parts.count("FMB"), "MB": parts.count("MB"), "T": depth}


def summarise(trials: pd.DataFrame, acc_target: float | None) -> dict:
    """What one search found: best, top-3 block sequences, block mix of the ``TOP`` best scores."""
    ok = trials[trials["status"] == "ok"].sort_values("score").drop_duplicates("spec_hash")
    best = ok.iloc[0]
    top = ok.head(TOP)
    mix = pd.DataFrame([block_counts(s) for s in top["block_sequence"]]).mean()
    return {
        "best_block_sequence": best["block_sequence"], "best_score": best["score"],
        "best_proxy_accuracy": best["proxy_accuracy"], "best_params": int(best["params"]),
        "top3_block_sequences": " / ".join(ok.head(3)["block_sequence"]),
        "meeting_target": int((ok["proxy_accuracy"] >= acc_target).sum()) if acc_target else None,
        "top_fmb": mix["FMB"], "top_mb": mix["MB"], "top_with_t": float((top["block_sequence"].str.contains("T")).mean()),
        "top_sequences": set(top["block_sequence"]),
    }


def report(inputs: ProjectInputs, runs: list[tuple[str, int]], out: Path, figures: Path) -> str:
    rows = []
    for teacher, seed in runs:
        trials = read_trials(out / f"{teacher}-seed{seed}")
        if trials.empty or not (trials["status"] == "ok").any():
            continue
        profile = inputs.teacher_profile[teacher]
        rows.append({"teacher": teacher, "seed": seed, "trials": len(trials),
                     "teacher_test_top1": profile["test_top1"], "teacher_macs": profile["macs"],
                     **summarise(trials, inputs.search.score.acc_target)})
    if not rows:
        return f"no finished searches under {out} yet"
    table = pd.DataFrame(rows)
    figures.mkdir(parents=True, exist_ok=True)
    table.drop(columns="top_sequences").to_csv(figures / "teacher_study.csv", index=False, float_format="%.4g")
    lines = [f"| teacher (test top-1) | seed | best block sequence | score / proxy top-1 / params | next two best "
             f"| mean FMB / MB blocks, share with T ({TOP} best) |", "|---|---|---|---|---|---|"]
    for _, row in table.iterrows():
        lines.append(
            f"| {row['teacher']} ({row['teacher_test_top1']:.1f} %) | {row['seed']} | {row['best_block_sequence']} | "
            f"{row['best_score']:.3g} / {row['best_proxy_accuracy']:.1f} % / {row['best_params'] / 1e3:.0f}k | "
            f"{' / '.join(row['top3_block_sequences'].split(' / ')[1:])} | "
            f"{row['top_fmb']:.1f} / {row['top_mb']:.1f}, {row['top_with_t']:.0%} |")
    for teacher in table["teacher"][table["teacher"].duplicated()].unique():
        pair = table[table["teacher"] == teacher]
        first, second = pair["top_sequences"].iloc[0], pair["top_sequences"].iloc[1]
        lines.append(f"\n{teacher}, seeds {pair['seed'].iloc[0]} and {pair['seed'].iloc[1]}: "
                     f"{len(first & second)} block sequences in common among their {TOP} best "
                     f"(Jaccard {len(first & second) / len(first | second):.2f}).")
    (figures / "teacher_study.md").write_text("\n".join(lines) + "\n")
    plot(table, figures / "teacher_study.png")
    return "\n".join(lines)


def table_5(inputs: ProjectInputs, teachers: list[str], seed: int, out: Path, figures: Path) -> str:
    """Every teacher's best student and the baselines, each distilled from every teacher."""
    students = []
    for teacher in teachers:
        students += select_architectures(read_trials(out / f"{teacher}-seed{seed}"), 1, inputs.search.score.acc_target)
    rows = []
    for teacher in teachers:
        model = inputs.teachers[teacher]()
        logits = logit_cache(teacher, model.model, inputs.split, inputs.teacher_params.batch_size,
                             inputs.teacher_params.device)
        params = inputs.retrain.model_copy(update={
            "students": len(students), "trained_by": ["distill"], "seeds": [0], "resume": True,
            "checkpoint_dir": str(out / "table5" / teacher)})
        for result in run_retrain(students, {}, inputs.split, model, logits, params).results:
            rows.append({"teacher": teacher, "teacher_test_top1": inputs.teacher_profile[teacher]["test_top1"],
                         "student": result["model"], "architecture": result["architecture"], "top1": result["top1"]})
    table = pd.DataFrame(rows)
    table.to_csv(figures / "table5.csv", index=False, float_format="%.4g")
    wide = table.pivot_table(index="teacher", columns="student", values="top1", sort=False)
    names = {f"trade_{k}": f"trade_{k} ({t})" for k, t in enumerate(teachers, start=1)}
    lines = ["| teacher (test top-1) | " + " | ".join(names.get(c, c) for c in wide.columns) + " | best student |",
             "|---|" + "---|" * (len(wide.columns) + 1)]
    for teacher, values in wide.iterrows():
        lines.append(f"| {teacher} ({inputs.teacher_profile[teacher]['test_top1']:.1f} %) | "
                     + " | ".join(f"{v:.2f}" for v in values) + f" | {values.idxmax()} |")
    architectures = dict(zip(table["student"], table["architecture"]))
    lines.append("\nStudents: " + "; ".join(f"{names.get(s, s)} = {a}" for s, a in architectures.items()) + ".")
    (figures / "table5.md").write_text("\n".join(lines) + "\n")
    return "\n".join(lines)


def plot(table: pd.DataFrame, path: Path) -> None:
    """Mean FMB and MB blocks and Transformer layers among each run's best scores."""
    labels = [f"{t}\nseed {s}" for t, s in zip(table["teacher"], table["seed"])]
    x = np.arange(len(table))
    figure, axes = plt.subplots(figsize=(7, 4))
    for offset, (column, name, colour) in zip((-0.25, 0, 0.25), (("top_fmb", "Fused-MBConv blocks", "tab:blue"),
                                                                  ("top_mb", "MBConv blocks", "tab:orange"),
                                                                  ("top_with_t", "share with a Transformer", "tab:green"))):
        axes.bar(x + offset, table[column], width=0.25, label=name, color=colour)
    axes.set_xticks(x, labels)
    axes.set_ylabel(f"mean over the {TOP} best scores")
    axes.set_title("Block mix of the students each teacher led to")
    axes.legend(fontsize=8)
    axes.grid(alpha=0.3, axis="y")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, default=ROOT, help="a project where data,teacher ran")
    parser.add_argument("--teachers", nargs="+", default=None, help="default: every saved teacher in the profile")
    parser.add_argument("--second-seed-teacher", default=None, help="default: the project's teacher.search_teacher")
    parser.add_argument("--seeds", nargs=2, type=int, default=[0, 1], help="the first seed (all) and the second")
    parser.add_argument("--n-trials", type=int, default=None, help="default: the project's search.n_trials")
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "benchmarks" / "teacher_study")
    parser.add_argument("--figures", type=Path, default=ROOT / "docs" / "figures")
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--table5", action="store_true", help="retrain students x teachers (paper Table 5)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    inputs = load_project(args.project)
    teachers = args.teachers or list(inputs.teacher_profile)
    again = args.second_seed_teacher or inputs.teacher_params.search_teacher
    runs = [(teacher, args.seeds[0]) for teacher in teachers] + [(again, args.seeds[1])]
    out = args.out / inputs.split.fingerprint[:8]
    if not args.report_only:
        run_study(inputs, runs, args.n_trials, out)
    print(report(inputs, runs, out, args.figures))
    if args.table5:
        print(table_5(inputs, teachers, args.seeds[0], out, args.figures))


if __name__ == "__main__":
    main()
