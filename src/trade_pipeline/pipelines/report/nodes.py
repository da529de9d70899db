"""Nodes of the ``report`` pipeline: thin wrappers over ``trade_pipeline.report``."""
from __future__ import annotations

from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from trade_pipeline.contracts import SearchSummary
from trade_pipeline.data.split import Split
from trade_pipeline.report.build import run_report
from trade_pipeline.report.document import to_html, to_markdown

# Where the markdown finds its figures: the catalog's run_report_figures folder, next to run_report_md.
FIGURE_FOLDER = "run_report_figures"


def build_run_report(
    split: Split, teacher_profile: dict[str, Any], teacher_similarity: dict[str, Any], search_summary: SearchSummary,
    search_trials: pd.DataFrame, pareto_front: pd.DataFrame, selected_architectures: list[dict[str, Any]],
    search_trace: list[dict[str, Any]], retrain_report: pd.DataFrame | None, transfer_report: pd.DataFrame | None,
) -> tuple[str, str, dict[str, Figure]]:
    """The run report as one HTML page (figures inlined), as markdown, and its figures by name.

    ``retrain_report`` and ``transfer_report`` are ``None`` when those stages never ran.
    """
    document = run_report(split, teacher_profile, teacher_similarity, search_summary, search_trials, pareto_front,
                          selected_architectures, search_trace, retrain_report, transfer_report)
    return to_html(document), to_markdown(document, FIGURE_FOLDER), document.figures()
