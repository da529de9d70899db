"""The run report's content: a section per stage from that stage's datasets, in the paper's terms.

The teacher and search datasets are required; a stage that has not run yet (``None`` for its
report) gets a section that says so and which pipeline makes it.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import pandas as pd

from trade_pipeline.data.split import Split
from trade_pipeline.report.document import Block, Document, Plot, Section, Table
from trade_pipeline.report.tables import search_overview, students_by_teacher, teacher_table, top_candidates
from trade_pipeline.retrain.report import distillation_gain_sentence, plot_accuracy_latency, plot_accuracy_s, table_2
from trade_pipeline.search.plots import (
    plot_front,
    plot_hypervolume,
    plot_pareto,
    plot_search_progress,
    plot_trust_region_trace,
)
from trade_pipeline.teachers.plots import plot_similarity
from trade_pipeline.transfer.report import table_7


def not_run(pipeline: str, what: str) -> str:
    return f"Not run yet: `kedro run --pipelines={pipeline}` {what}, then rebuild with `kedro run --pipelines=report`."


def teacher_section(teacher_profile: Mapping[str, Any], teacher_similarity: Mapping[str, Any], search_teacher: str,
                    retrain_report: pd.DataFrame | None) -> Section:
    blocks: list[Block] = [Table(teacher_table(teacher_profile, search_teacher),
                               "Table 4 analog: teachers (accuracy in %, latency at batch 1)")]
    if retrain_report is None:
        blocks.append("Table 5 analog (students distilled from each teacher) needs the retrain. "
                      + not_run("retrain", "trains the selected students and the baselines"))
    elif not retrain_report["trained_by"].eq("distill").any():
        blocks.append("Table 5 analog: no distilled student finished the retrain.")
    else:
        blocks.append(Table(students_by_teacher(retrain_report),
                            "Table 5 analog: test top-1 (%) of each student distilled from the teacher"))
    blocks.append(Plot("teacher_similarity", plot_similarity(teacher_similarity),
                       "Fig. 5 analog: how alike the teachers predict (matching ratio on [0, 1]; "
                       "KL on one scale for train and test)"))
    return Section("Teachers", blocks)


def search_section(search_summary: Mapping[str, Any], search_trials: pd.DataFrame, pareto_front: pd.DataFrame,
                   selected_architectures: Sequence[Mapping[str, Any]],
                   search_trace: Sequence[Mapping[str, Any]]) -> Section:
    blocks: list[Block] = [
        Table(search_overview(search_summary, search_trials, pareto_front, selected_architectures), "Summary"),
        Table(top_candidates(search_trials, selected_architectures),
              "Table 6 analog: best candidates by Eq. 2 score, with their block sequences "
              "(FMB: Fused-MBConv, MB: MBConv, T: Transformer)"),
    ]
    if search_summary.get("objective") == "pareto":
        reference = search_summary["hypervolume_reference"]
        blocks += [Plot("front", plot_front(search_trials, pareto_front, selected_architectures, reference),
                        "Pareto mode: the front of proxy accuracy against s that the search grew, the area it "
                        "dominates shaded; the students selected for retraining numbered"),
                   Plot("hypervolume", plot_hypervolume(search_trials, reference),
                        "Pareto mode: the front's hypervolume against candidates evaluated")]
    blocks += [
        Plot("search_progress", plot_search_progress(search_trials),
             "Fig. 7 analog: best score so far against candidates evaluated"),
        Plot("pareto_front", plot_pareto(search_trials, pareto_front),
             "Fig. 6 analog: proxy accuracy against costs; the Pareto front circled in red"),
        Plot("trust_region_trace", plot_trust_region_trace(search_trace), "Trust-region length (TuRBO)"),
    ]
    return Section("Search", blocks)


def retrain_section(retrain_report: pd.DataFrame | None, search_teacher: str,
                    teacher: Mapping[str, Any] | None = None) -> Section:
    """Table 2 and Fig. 1; given the ``teacher``'s profile (the Pareto mode), also the retrained
    students, the baselines and the teacher against ``s``."""
    if retrain_report is None:
        return Section("Retrain", [not_run("retrain", "trains the selected students and the baselines")])
    if retrain_report.empty:
        return Section("Retrain", ["The retrain ran but no job finished; its log says why."])
    blocks: list[Block] = []
    teachers = set(retrain_report["teacher"])
    if teachers != {search_teacher}:
        blocks.append(f"These students were distilled from {', '.join(sorted(teachers))}, not from this search's "
                      f"teacher {search_teacher}: rerun `kedro run --pipelines=retrain` to bring them up to date.")
    blocks.append(Table(table_2(retrain_report), "Table 2 analog: test accuracy (%) of every model, "
                        "trained on hard labels (HL) and distilled (D)"))
    sentence = distillation_gain_sentence(retrain_report)
    if sentence:
        blocks.append(sentence)
    blocks.append(Plot("retrain_accuracy_latency", plot_accuracy_latency(retrain_report),
                       "Fig. 1 analog: test top-1 against batch-1 latency"))
    if teacher is not None:
        blocks.append(Plot("retrain_accuracy_s", plot_accuracy_s(retrain_report, teacher),
                           "Pareto mode: the students retrained from the front, the baselines and the teacher, "
                           "test top-1 against s"))
    return Section("Retrain", blocks)


def transfer_section(transfer_report: pd.DataFrame | None, retrain_report: pd.DataFrame | None,
                     source_name: str) -> Section:
    if transfer_report is None:
        return Section("Transfer", [not_run("transfer", "fine-tunes the retrained models on other datasets")])
    if transfer_report.empty:
        return Section("Transfer", ["The transfer ran but no job finished; its log says why."])
    return Section("Transfer", [Table(table_7(transfer_report, retrain_report, source_name),
                                      "Table 7 analog: test top-1 (%) after fine-tuning (transferred) "
                                      "and when trained there from scratch")])


def run_report(split: Split, teacher_profile: Mapping[str, Any], teacher_similarity: Mapping[str, Any],
               search_summary: Mapping[str, Any], search_trials: pd.DataFrame, pareto_front: pd.DataFrame,
               selected_architectures: Sequence[Mapping[str, Any]], search_trace: Sequence[Mapping[str, Any]],
               retrain_report: pd.DataFrame | None, transfer_report: pd.DataFrame | None) -> Document:
    """The whole report; ``retrain_report`` / ``transfer_report`` are ``None`` for stages not run."""
    teacher = search_summary["teacher"]
    stages = ", ".join(f"{stage}{'' if ran else ' (not run)'}" for stage, ran in
                       (("teacher", True), ("search", True), ("retrain", retrain_report is not None),
                        ("transfer", transfer_report is not None)))
    sizes = ", ".join(f"{part.replace('_', '-')} {len(split.indices(part)):,}"
                      for part in ("mini_train", "mini_val", "test"))
    intro = [
        f"Teacher `{teacher}` on `{split.source.dataset}` ({split.num_classes} classes, {split.channels}×"
        f"{split.image_size}×{split.image_size} images; {sizes}). Stages: {stages}.",
        f"Built {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC from the latest saved datasets; "
        "`kedro run --pipelines=report` rebuilds it alone.",
    ]
    return Document("TRADE run report", intro, [
        teacher_section(teacher_profile, teacher_similarity, teacher, retrain_report),
        search_section(search_summary, search_trials, pareto_front, selected_architectures, search_trace),
        retrain_section(retrain_report, teacher,
                        teacher_profile[teacher] if search_summary.get("objective") == "pareto" else None),
        transfer_section(transfer_report, retrain_report, split.source.dataset),
    ])
