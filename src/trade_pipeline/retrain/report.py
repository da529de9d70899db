"""Table 2 and Fig. 1 of the retrain: every model in every training mode, with its costs.

One row per (model, trained_by): the mean test top-1/top-5 over the seeds that finished (their
spread beside it), and the model's params, MACs and batch-1 latency, each model timed in turn
with the teacher, as the search times its candidates, so Table 2's latencies and the search's
are on one scale.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from trade_pipeline.data.split import Split
from trade_pipeline.models import ModelArtifact
from trade_pipeline.profiling import LatencyReference, ProfileSettings, profile_models
from trade_pipeline.retrain.jobs import PREDEFINED, SEARCHED, SEARCHED_HARD_LABEL, retrained_key
from trade_pipeline.text_tables import markdown_table, number

REPORT_COLUMNS = ("model", "architecture", "teacher", "searched_by", "rank", "trained_by", "macs", "params",
                  "latency_ms", "top1", "top5", "top1_std", "seeds")
TRAINED_BY = {"hard_label": "HL", "distill": "D"}  # Table 2's abbreviations
SEARCHED_BY = {SEARCHED: "TRADE (D)", SEARCHED_HARD_LABEL: "TRADE (HL)", PREDEFINED: "-"}  # searched with KD / HL
TABLE_2_COLUMNS = ("teacher", "student", "architecture", "MACs (M)", "params (M)", "latency (ms)", "searched by",
                   "trained by", "top-1", "top-5")


def model_costs(results: Sequence[Mapping[str, Any]], models: Mapping[str, ModelArtifact], split: Split,
                settings: ProfileSettings, device: str, reference: LatencyReference) -> dict[str, dict[str, float]]:
    """Params, MACs and latency of each distinct model of the jobs' ``results`` (``models`` keyed
    by ``jobs.retrained_key``), each timed against ``reference`` (the teacher)."""
    distinct: dict[str, ModelArtifact] = {}
    for result in results:
        key = retrained_key(result["model"], result["trained_by"])
        if key in models:
            distinct.setdefault(result["model"], models[key])
    profiles = profile_models([artifact.model for artifact in distinct.values()], split.input_shape(), settings, device,
                              reference)
    return dict(zip(distinct, profiles))


def retrain_report(results: Sequence[Mapping[str, Any]], costs: Mapping[str, Mapping[str, float]],
                   teacher: str) -> pd.DataFrame:
    """``retrain_report``: Table 2's columns, students searched with KD first, then those searched
    with hard labels, then the predefined ones; hard labels before distillation."""
    jobs = pd.DataFrame([r for r in results if r["status"] == "ok"])
    if jobs.empty:
        return pd.DataFrame(columns=list(REPORT_COLUMNS))
    grouped = jobs.groupby(["model", "trained_by"], sort=False)
    report = grouped.agg(architecture=("architecture", "first"), searched_by=("searched_by", "first"),
                         rank=("rank", "first"),
                         top1=("top1", "mean"), top5=("top5", "mean"), top1_std=("top1", "std"),
                         seeds=("seed", "count")).reset_index()
    report["teacher"] = teacher
    for key in ("macs", "params", "latency_ms"):
        report[key] = report["model"].map(lambda model: costs[model][key])
    report["top1_std"] = report["top1_std"].fillna(0.0)
    first_seen = {model: index for index, model in enumerate(dict.fromkeys(jobs["model"]))}
    keys = pd.DataFrame({"searched_by": report["searched_by"].map(list(SEARCHED_BY).index),
                         "model": report["model"].map(first_seen), "distill": report["trained_by"].eq("distill")})
    order = keys.sort_values(["searched_by", "model", "distill"], kind="stable").index
    return report.loc[order, list(REPORT_COLUMNS)].reset_index(drop=True)


def distillation_gains(report: pd.DataFrame) -> pd.Series:
    """Top-1 of each model distilled minus trained on hard labels (only models run both ways)."""
    table = report.pivot(index="model", columns="trained_by", values="top1")
    if not {"hard_label", "distill"} <= set(table.columns):
        return pd.Series(dtype=float)
    return (table["distill"] - table["hard_label"]).dropna()


def table_2(report: pd.DataFrame) -> pd.DataFrame:
    """Table 2's layout: every model in every training mode with its costs; ``± std`` over seeds."""
    return pd.DataFrame([
        {"teacher": row.teacher, "student": row.model, "architecture": row.architecture,
         "MACs (M)": number(row.macs, 2, 1e6), "params (M)": number(row.params, 3, 1e6),
         "latency (ms)": number(row.latency_ms), "searched by": SEARCHED_BY[row.searched_by],
         "trained by": TRAINED_BY[row.trained_by],
         "top-1": number(row.top1) + (f" ± {row.top1_std:.2f}" if row.seeds > 1 else ""), "top-5": number(row.top5)}
        for row in report.itertuples()
    ], columns=TABLE_2_COLUMNS)


def distillation_gain_sentence(report: pd.DataFrame) -> str | None:
    """The distillation gain of every model trained both ways, in one sentence (None if none was)."""
    gains = distillation_gains(report)
    if not len(gains):
        return None
    seeds = int(report["seeds"].min())
    return (f"Distillation gain (D − HL test top-1, mean over {seeds} seed{'s' * (seeds > 1)}): "
            + ", ".join(f"{model} {gain:+.2f} pt" for model, gain in gains.items()) + ".")


def search_teacher_sentence(report: pd.DataFrame) -> str | None:
    """Table 2's other question, when both searches ran: does searching with the teacher matter?
    Each rank's student of the KD search against the same rank of the hard-label search, trained
    the same way (None without hard-label students)."""
    searched = report[report["searched_by"].isin([SEARCHED, SEARCHED_HARD_LABEL])].astype({"rank": int})
    table = searched.pivot_table(index=["rank", "trained_by"], columns="searched_by", values="top1")
    if not {SEARCHED, SEARCHED_HARD_LABEL} <= set(table.columns):
        return None
    gains = (table[SEARCHED] - table[SEARCHED_HARD_LABEL]).dropna()
    order = sorted(gains.index, key=lambda key: (key[0], list(TRAINED_BY).index(key[1])))
    return ("Searching with the teacher (test top-1 of the KD search's student minus the hard-label search's, "
            "same rank, trained the same way): "
            + ", ".join(f"rank {rank} {TRAINED_BY[trained_by]} {gains[rank, trained_by]:+.2f} pt"
                        for rank, trained_by in order) + ".")


def report_markdown(report: pd.DataFrame) -> str:
    """Table 2, the distillation gain and, with a hard-label search, the search-teacher gain."""
    sentences = [s for s in (distillation_gain_sentence(report), search_teacher_sentence(report)) if s]
    return markdown_table(table_2(report)) + "".join(f"\n\n{sentence}" for sentence in sentences) + "\n"


def plot_accuracy_latency(report: pd.DataFrame) -> Figure:
    """Fig. 1: test top-1 against batch-1 latency (:func:`plot_accuracy_against`)."""
    return plot_accuracy_against(report, "latency_ms", "batch-1 latency (ms)", "Accuracy vs latency (Fig. 1)")


def plot_accuracy_s(report: pd.DataFrame, teacher: Mapping[str, Any]) -> Figure:
    """Test top-1 against Eq. 2's ``s`` (the Pareto mode's cost axis), with the ``teacher`` (its
    profile: costs and ``test_top1``) as the star at ``s`` = 3 that every student trades against."""
    with_s = report.assign(s=report["params"] / teacher["params"] + report["macs"] / teacher["macs"]
                           + report["latency_ms"] / teacher["latency_ms"])
    figure = plot_accuracy_against(with_s, "s", "s (params + MACs + latency, in teacher units)",
                                   "Accuracy vs s: the retrained front")
    figure.axes[0].scatter([3.0], [teacher["test_top1"]], marker="*", s=160, color="k", label="teacher")
    figure.axes[0].legend(fontsize=8)
    return figure


def plot_accuracy_against(report: pd.DataFrame, column: str, xlabel: str, title: str) -> Figure:
    """Test top-1 against a cost ``column``; TRADE students as circles (orange: searched with KD,
    green: with hard labels), predefined ones as squares; filled when distilled, hollow when
    trained on hard labels, an arrow from one to the other."""
    figure = Figure(figsize=(6.5, 4.5), layout="constrained")
    axes = figure.add_subplot()
    axes.set(xlabel=xlabel, ylabel="test top-1 (%)", title=title)
    colours = {SEARCHED: "tab:orange", SEARCHED_HARD_LABEL: "tab:green", PREDEFINED: "tab:blue"}
    for (searched_by, trained_by), rows in report.groupby(["searched_by", "trained_by"]):
        colour = colours.get(searched_by, "grey")
        axes.scatter(rows[column], rows["top1"], s=60, marker="s" if searched_by == PREDEFINED else "o",
                     facecolors=colour if trained_by == "distill" else "none", edgecolors=colour, linewidths=1.5,
                     label=f"{'predefined' if searched_by == PREDEFINED else SEARCHED_BY[searched_by]}, "
                           f"trained {TRAINED_BY[trained_by]}")
    for model, rows in report.groupby("model"):
        best = rows.loc[rows["top1"].idxmax()]
        axes.annotate(model, (best[column], best["top1"]), textcoords="offset points", xytext=(5, 4), fontsize=8)
    for model, gain in distillation_gains(report).items():  # an arrow from HL up (or down) to D
        row = report[(report["model"] == model) & (report["trained_by"] == "distill")].iloc[0]
        if gain:
            axes.annotate("", xy=(row[column], row["top1"]), xytext=(row[column], row["top1"] - gain),
                          arrowprops={"arrowstyle": "->", "color": "grey", "shrinkA": 5, "shrinkB": 5})
    if len(report):
        axes.legend(fontsize=8)
        low, high = float(np.nanmin(report["top1"])), float(np.nanmax(report["top1"]))
        axes.set_ylim(low - 0.5 - 0.1 * (high - low), high + 0.5 + 0.1 * (high - low))
    return figure


def retrain_metrics(report: pd.DataFrame) -> dict[str, dict[str, float]]:
    """``<model>.<trained_by>.top1`` / ``.top5`` for the MLflow run (prefix ``retrain`` in the catalog)."""
    return {f"{row.model}.{row.trained_by}.{key}": {"value": float(getattr(row, key)), "step": 0}
            for row in report.itertuples() for key in ("top1", "top5")}
