"""Nodes of the ``search`` pipeline: thin wrappers over ``trade_pipeline.search``."""
from __future__ import annotations

import logging
import math
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from trade_pipeline.data.loaders import source_for_split
from trade_pipeline.data.split import with_proxy_fraction
from trade_pipeline.search.config import parse_search_params
from trade_pipeline.search.objective import ObjectiveContext, reference_accuracy
from trade_pipeline.search.pareto import pareto_front, select_architectures
from trade_pipeline.search.plots import plot_pareto, plot_search_progress, plot_trust_region_trace
from trade_pipeline.search.runner import run_search
from trade_pipeline.search.score import BudgetCheck

logger = logging.getLogger(__name__)


def search_students(
    split: dict[str, Any],
    teacher_profile: dict[str, Any],
    teacher_logits: dict[str, Any],
    search_params: dict[str, Any],
) -> tuple[pd.DataFrame, list[dict[str, Any]], dict[str, Any]]:
    """Validates ``params:search``, checks the inputs agree, and runs (or resumes) the search.

    Returns every trial (``search_trials``), the trust-region trace and a summary
    (the accuracy target actually used, the teacher, counts by status).
    """
    params, space, turbo = parse_search_params(search_params)
    teacher = _search_teacher(teacher_profile, teacher_logits, split)
    space = space.at_resolution(split["image_size"])
    if params.proxy.data_fraction is not None:
        labels = source_for_split(split).labels[split["source"]["pools"]["mini_train"]]
        split = with_proxy_fraction(split, labels, params.proxy.data_fraction, params.seed)
    context = ObjectiveContext(
        space=space,
        split=split,
        teacher_logits=teacher_logits,
        teacher_costs={key: float(teacher_profile[teacher][key]) for key in ("params", "macs", "latency_ms")},
        proxy=params.proxy,
        profile=params.profile,
        budget=BudgetCheck(**params.budget.model_dump()),
        epsilon=params.score.epsilon,
        acc_target=params.score.acc_target or math.nan,
        strategy=params.strategy,
        seed=params.seed,
    )
    if params.score.reference_student:
        context.acc_target = reference_accuracy(params.score.reference_student, context, params.device)
        logger.info("Accuracy target = proxy top-1 of %s = %.2f%%", params.score.reference_student, context.acc_target)
    result = run_search(context, params, turbo, fingerprint_extra={
        "teacher": teacher,
        "split": split["fingerprint"],
        "seed": params.seed,
        "proxy": params.proxy.model_dump(),
        "score": params.score.model_dump(),
        "budget": params.budget.model_dump(),
        "turbo": turbo.to_dict(),
    })
    counts = result.trials["status"].value_counts().to_dict()
    summary = {"teacher": teacher, "acc_target": context.acc_target, "n_trials": len(result.trials),
               "status_counts": {str(k): int(v) for k, v in counts.items()}}
    return result.trials, result.trace, summary


def _search_teacher(teacher_profile: dict[str, Any], teacher_logits: dict[str, Any], split: dict[str, Any]) -> str:
    teacher = teacher_logits["teacher"]
    if teacher_logits.get("split_fingerprint") != split["fingerprint"]:
        raise ValueError(
            f"teacher_logits were computed on another split (fingerprint {teacher_logits.get('split_fingerprint')}, "
            f"split has {split['fingerprint']}); rerun `kedro run --pipelines=teacher` for this split "
            "or pin matching versions with --load-versions."
        )
    if teacher not in teacher_profile:
        raise ValueError(f"teacher_logits come from '{teacher}', which teacher_profile does not list "
                         f"({sorted(teacher_profile)}); rerun `kedro run --pipelines=teacher`.")
    return teacher


def find_pareto_front(search_trials: pd.DataFrame) -> pd.DataFrame:
    """Non-dominated ``ok`` trials over accuracy↑, params↓, MACs↓, latency↓ (Fig. 6's red dots)."""
    return pareto_front(search_trials)


def select_students(search_trials: pd.DataFrame, search_summary: dict[str, Any],
                    search_params: dict[str, Any]) -> list[dict[str, Any]]:
    """Top-k by Eq. 2 score among trials that meet the accuracy target (the retrain's input)."""
    selected = select_architectures(search_trials, search_params.get("top_k", 3), search_summary["acc_target"])
    if not selected:
        logger.warning("No searched student reached the accuracy target %.2f%%; nothing selected.",
                       search_summary["acc_target"])
    return selected


def plot_search(search_trials: pd.DataFrame, pareto: pd.DataFrame,
                search_trace: list[dict[str, Any]]) -> tuple[Figure, Figure, Figure]:
    """Best score vs evaluations, the Pareto scatter (Fig. 6) and the trust-region length trace."""
    return plot_search_progress(search_trials), plot_pareto(search_trials, pareto), plot_trust_region_trace(search_trace)
