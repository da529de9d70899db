"""Pareto front of the searched candidates (Fig. 6) and the top-k picked for retraining (§4).

With ``search.objective: pareto`` the search itself grows the front of proxy accuracy against
Eq. 2's resource ratio ``s`` (``score.ParetoParams``), and the students retrained are spread along it.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from trade_pipeline.optim.hypervolume import hypervolume_trace
from trade_pipeline.search.score import KDGuidedScore
from trade_pipeline.search.trials import ok_trials, require_columns

# Objectives of the front: accuracy is maximised, every cost minimised.
ACCURACY = "proxy_accuracy"
COSTS = ("params", "macs", "latency_ms")
FRONT_COSTS = {"eq2": COSTS, "pareto": ("resource_ratio",)}
"""The costs of ``pareto_front`` per ``search.objective``: each cost (Fig. 6), or the ``s`` the
Pareto mode's search traded accuracy against."""
SELECTED_FIELDS = ("trial_id", "spec_hash", "block_sequence", "score", ACCURACY, *COSTS)


def pareto_front(trials: pd.DataFrame, costs: Sequence[str] = COSTS) -> pd.DataFrame:
    """The ``"ok"`` trials no other ``"ok"`` trial dominates, cheapest (by ``costs`` in order) first.

    A trial is dominated when another is at least as accurate and at most as costly on every
    cost, and strictly better on one. Exact ties do not dominate each other, so both stay.
    """
    costs = list(costs)
    require_columns(trials, ["status", ACCURACY, *costs])
    candidates = ok_trials(trials).dropna(subset=[ACCURACY, *costs])
    # Negated accuracy turns every objective into "lower is better": n x (1 + costs).
    objectives = np.column_stack([-candidates[ACCURACY].to_numpy(float), candidates[costs].to_numpy(float)])
    # [i, j] compares candidate j against candidate i: n x n x k -> n x n.
    no_worse = (objectives[None, :, :] <= objectives[:, None, :]).all(axis=2)
    better_somewhere = (objectives[None, :, :] < objectives[:, None, :]).any(axis=2)
    dominated = (no_worse & better_somewhere).any(axis=1)
    front = candidates[~dominated]
    return front.sort_values(costs, kind="stable").reset_index(drop=True)


def hypervolume_by_trial(trials: pd.DataFrame, reference: tuple[float, float]) -> pd.Series:
    """The hypervolume of the accuracy-``s`` front of the trials up to each one, by trial id (the
    Pareto mode's progress; failed and refused trials add nothing)."""
    require_columns(trials, ["trial_id", "status", ACCURACY, "resource_ratio"])
    ordered = trials.sort_values("trial_id", kind="stable")
    ok = (ordered["status"] == "ok").to_numpy()
    accuracy = np.where(ok, ordered[ACCURACY].to_numpy(float, na_value=np.nan), np.nan)
    trace = hypervolume_trace(accuracy, ordered["resource_ratio"].to_numpy(float, na_value=np.nan), reference)
    return pd.Series(trace, index=ordered["trial_id"].to_numpy(), name="hypervolume")


def at_target(trials: pd.DataFrame, score: KDGuidedScore) -> pd.DataFrame:
    """The trials with ``score`` and ``log_score`` (Eq. 2) at ``score``'s target: a front searched
    once (``search.objective: pareto``) is read at whichever target is set now."""
    require_columns(trials, ["status", ACCURACY, "resource_ratio", "score", "log_score"])
    rescored = trials.copy()
    ok = (rescored["status"] == "ok") & rescored[ACCURACY].notna() & rescored["resource_ratio"].notna()
    pairs = list(zip(rescored.loc[ok, ACCURACY], rescored.loc[ok, "resource_ratio"]))
    rescored.loc[ok, "score"] = [score.value(accuracy, s) for accuracy, s in pairs]
    rescored.loc[ok, "log_score"] = [score.log_value(accuracy, s) for accuracy, s in pairs]
    return rescored


def select_along_front(trials: pd.DataFrame, count: int, acc_target: float | None) -> list[dict[str, Any]]:
    """``count`` distinct students of the accuracy-``s`` front, for Table 2 to show the trade-off:
    first Eq. 2's best at ``acc_target`` (when a front student meets it), then the front students
    nearest evenly spaced inner quantiles of the front's ``s`` (for two: its thirds), cheapest
    first. The ends are left out: the cheapest front students are barely above chance and the
    dearest buy a last point of accuracy. Entries as :func:`select_architectures`'s."""
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    front = (pareto_front(trials, FRONT_COSTS["pareto"]).dropna(subset=["spec_json"]).drop_duplicates("spec_hash")
             .reset_index(drop=True))
    meeting = front[front[ACCURACY] >= acc_target] if acc_target is not None else front.iloc[:0]
    best = [int(meeting["score"].idxmin())] if len(meeting) else []
    s = front["resource_ratio"].to_numpy(float)
    spread: list[int] = []
    for quantile in np.quantile(s, np.linspace(0.0, 1.0, count - len(best) + 2)[1:-1]) if len(front) else []:
        free = [i for i in front.index if i not in best + spread]
        if free:
            spread.append(min(free, key=lambda i: (abs(s[i] - quantile), s[i])))
    return [_selected(front.loc[i]) for i in best + sorted(spread, key=lambda i: s[i])]


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
    return [_selected(row) for _, row in best.iterrows()]


def _selected(row: pd.Series) -> dict[str, Any]:
    """A selected student as the retrain pipeline reads it: its parsed ``spec`` and ``SELECTED_FIELDS``."""
    return {"spec": json.loads(row["spec_json"])} | {field: _plain(row[field]) for field in SELECTED_FIELDS}


def _plain(value: Any) -> Any:
    """numpy/pandas scalars as Python values, missing as None, so the result is JSON-able."""
    if pd.isna(value):
        return None
    return value.item() if hasattr(value, "item") else value
