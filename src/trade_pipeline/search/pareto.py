"""Pareto front of the searched candidates (Fig. 6) and the top-k picked for retraining (§4)."""
from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from trade_pipeline.search.trials import ok_trials, require_columns

# Objectives of the front: accuracy is maximised, every cost minimised.
ACCURACY = "proxy_accuracy"
COSTS = ("params", "macs", "latency_ms")
SELECTED_FIELDS = ("trial_id", "spec_hash", "block_sequence", "score", ACCURACY, *COSTS)


def pareto_front(trials: pd.DataFrame) -> pd.DataFrame:
    """The ``"ok"`` trials no other ``"ok"`` trial dominates, cheapest params first.

    A trial is dominated when another is at least as accurate and at most as costly on every
    cost, and strictly better on one. Exact ties do not dominate each other, so both stay.
    """
    require_columns(trials, ["status", ACCURACY, *COSTS])
    candidates = ok_trials(trials).dropna(subset=[ACCURACY, *COSTS])
    # Negated accuracy turns every objective into "lower is better": n x 4.
    objectives = np.column_stack(
        [-candidates[ACCURACY].to_numpy(float), candidates[list(COSTS)].to_numpy(float)]
    )
    # [i, j] compares candidate j against candidate i: n x n x 4 -> n x n.
    no_worse = (objectives[None, :, :] <= objectives[:, None, :]).all(axis=2)
    better_somewhere = (objectives[None, :, :] < objectives[:, None, :]).any(axis=2)
    dominated = (no_worse & better_somewhere).any(axis=1)
    front = candidates[~dominated]
    return front.sort_values(list(COSTS), kind="stable").reset_index(drop=True)


def select_architectures(
    trials: pd.DataFrame, top_k: int, acc_target: float | None
) -> list[dict[str, Any]]:
    """The ``top_k`` distinct ``"ok"`` architectures with the lowest score (Eq. 2).

    Only candidates with ``proxy_accuracy >= acc_target`` qualify (the paper's accuracy
    bracket); ``acc_target=None`` lets all through. Each entry carries the parsed ``spec`` so
    the retrain pipeline can rebuild it without the search. Empty when none qualifies.
    """
    if top_k < 1:
        raise ValueError(f"top_k must be at least 1, got {top_k}")
    require_columns(trials, ["status", "spec_json", "score", *SELECTED_FIELDS])
    candidates = ok_trials(trials).dropna(subset=["score", "spec_json"])
    if acc_target is not None:
        candidates = candidates[candidates[ACCURACY] >= acc_target]
    best = (
        candidates.sort_values("score", kind="stable")
        .drop_duplicates("spec_hash")
        .head(top_k)
    )
    return [
        {"spec": json.loads(row["spec_json"])}
        | {field: _plain(row[field]) for field in SELECTED_FIELDS}
        for _, row in best.iterrows()
    ]


def _plain(value: Any) -> Any:
    """numpy/pandas scalars as Python values, missing as None, so the result is JSON-able."""
    if pd.isna(value):
        return None
    return value.item() if hasattr(value, "item") else value
