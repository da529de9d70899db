"""Nodes of the ``search`` pipeline: thin wrappers over ``trade_pipeline.search``."""
from __future__ import annotations

import logging
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from trade_pipeline.contracts import SearchSummary, TeacherLogits
from trade_pipeline.data.split import Split
from trade_pipeline.models import ModelArtifact
from trade_pipeline.report.metrics import search_metrics
from trade_pipeline.search.config import SearchParams
from trade_pipeline.search.pareto import FRONT_COSTS, pareto_front
from trade_pipeline.search.plots import plot_pareto, plot_search_progress, plot_trust_region_trace
from trade_pipeline.search.session import run_hard_label_search, run_trade_search, students_to_retrain

logger = logging.getLogger(__name__)


def search_students(
    split: Split, teacher_profile: dict[str, Any], teacher_logits: TeacherLogits, teacher_model: ModelArtifact,
    search: SearchParams,
) -> tuple[pd.DataFrame, list[dict[str, Any]], dict[str, Any]]:
    """Runs (or resumes) TRADE: every trial (``search_trials``), the trust-region trace, a summary.
    ``teacher_model`` is what each candidate's latency is timed against."""
    outcome = run_trade_search(split, teacher_profile, teacher_logits, search, teacher_model)
    return outcome.trials, outcome.trace, outcome.summary


def search_hard_label_students(
    split: Split, teacher_profile: dict[str, Any], teacher_logits: TeacherLogits, teacher_model: ModelArtifact,
    search: SearchParams,
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """With ``search.hard_label_search``, the search again on hard labels (Table 2's "searched with
    HL" students): its trials and selected students; an empty table and list otherwise."""
    return run_hard_label_search(split, teacher_profile, teacher_logits, search, teacher_model)


def find_pareto_front(search_trials: pd.DataFrame, search: SearchParams) -> pd.DataFrame:
    """Non-dominated ``ok`` trials over accuracy↑, params↓, MACs↓, latency↓ (Fig. 6's red dots); in
    the Pareto mode over accuracy↑ and ``s``↓, the front its search grew."""
    return pareto_front(search_trials, FRONT_COSTS[search.objective])


def select_students(search_trials: pd.DataFrame, search_summary: SearchSummary,
                    search: SearchParams) -> list[dict[str, Any]]:
    """Top-k by Eq. 2 score among trials that meet the accuracy target, or in the Pareto mode top-k
    spread along the front (the retrain's input)."""
    selected = students_to_retrain(search_trials, search, search_summary["acc_target"])
    if not selected:
        logger.warning("No searched student reached the accuracy target %.2f%%; nothing selected.",
                       search_summary["acc_target"])
    return selected


def plot_search(search_trials: pd.DataFrame, pareto: pd.DataFrame,
                search_trace: list[dict[str, Any]]) -> tuple[Figure, Figure, Figure]:
    """Best score vs evaluations, the Pareto scatter (Fig. 6) and the trust-region trace."""
    return plot_search_progress(search_trials), plot_pareto(search_trials, pareto), plot_trust_region_trace(search_trace)


def track_search(search_trials: pd.DataFrame, search_summary: SearchSummary, pareto_front: pd.DataFrame,
                 selected_architectures: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """The search's headline MLflow metrics: ``search.best_score``, counts, … (docs/tracking.md)."""
    return search_metrics(search_summary, search_trials, pareto_front, selected_architectures)
