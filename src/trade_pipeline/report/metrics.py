"""The search's headline numbers as MLflow metrics, under names that stay the same from run to
run (``search.best_score``, …; all listed in docs/tracking.md), so runs of two teachers or
two strategies line up column by column in the MLflow UI."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from trade_pipeline.search.trials import TRIAL_STATUSES, ok_trials
from trade_pipeline.tracking import finite


def search_metrics(search_summary: Mapping[str, Any], search_trials: pd.DataFrame, pareto_front: pd.DataFrame,
                   selected_architectures: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    """``<name>: {value, step}`` for the catalog's metrics dataset (prefix ``search``); a best
    that does not exist (no candidate scored) is left out rather than logged as NaN."""
    scored = ok_trials(search_trials)
    counts = search_trials["status"].value_counts()
    values = {
        "best_score": scored["score"].min(),
        "best_proxy_accuracy": scored["proxy_accuracy"].max(),
        "acc_target": search_summary["acc_target"],
        "n_trials": len(search_trials),
        **{f"n_{status}": counts.get(status, 0) for status in TRIAL_STATUSES},
        "pareto_size": len(pareto_front),
        "hypervolume": search_summary.get("hypervolume"),
        "n_selected": len(selected_architectures),
        "trial_seconds": search_trials["seconds"].sum(),
        "proxy_image_epochs": search_trials["image_epochs"].sum(),
        "proxy_image_epochs_saved": search_summary.get("image_epochs_saved"),
        "n_filtered_over_budget": search_summary.get("filtered_over_budget"),
        "latency_model_error": search_summary.get("latency_model_error"),
        "guided_met_target_share": (search_summary["guided_met_target"] / search_summary["guided_evaluations"]
                                    if search_summary.get("guided_evaluations") else None),
    }
    return {name: {"value": float(value), "step": 0} for name, value in values.items()
            if value is not None and finite(float(value))}
