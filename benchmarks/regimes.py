"""Target regimes: how hard Eq. 2's accuracy target is, named by the share of students that meet it.

A search method is judged at several targets, because Eq. 2's cliff at the target decides where
its good students are: ``binding`` (40 % of students meet the target), ``strict`` (10 %),
``needle`` (2 %: the cheap students cannot reach it). On the project's own space the proxy
comparison adds ``budget``: the strict target, with a MACs budget that half of the students break,
so that the compute a method spends on them matters.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

REGIMES = {"binding": 0.40, "strict": 0.10, "needle": 0.02}
"""Regime -> share of students (cells) that meet its accuracy target."""
BUDGET_REGIME = ("budget", "strict", 0.5)
"""The budget regime's name, the regime whose target it keeps, and the share of students over its MACs budget."""


def regime_target(accuracies: np.ndarray, share: float) -> float:
    """The accuracy met by ``share`` of ``accuracies`` (the ``1 - share`` quantile)."""
    return float(np.quantile(accuracies, 1.0 - share))


def proxy_regimes(rows: Sequence[dict[str, Any]], teacher_macs: float) -> dict[str, dict[str, Any]]:
    """Each regime's ``target``, ``max_macs_ratio`` (None: no budget), ``feasible_share`` (meets the
    target within the budget) and ``over_budget_share``, from the trial rows of uniformly drawn
    students; a student that failed or learned nothing counts as missing every target."""
    accuracy = np.array([row["proxy_accuracy"] if row["status"] == "ok" and row["proxy_accuracy"] is not None
                         else 0.0 for row in rows])
    macs_ratio = np.array([np.inf if row["macs"] is None else row["macs"] for row in rows]) / teacher_macs
    name, base, over_share = BUDGET_REGIME
    limits = {regime: None for regime in REGIMES} | {name: float(np.quantile(macs_ratio, 1.0 - over_share))}
    targets = {regime: regime_target(accuracy, share) for regime, share in REGIMES.items()}
    targets[name] = targets[base]
    regimes = {}
    for regime, target in targets.items():
        within = macs_ratio <= (limits[regime] if limits[regime] is not None else np.inf)
        regimes[regime] = {"target": target, "max_macs_ratio": limits[regime],
                           "feasible_share": float(np.mean((accuracy >= target) & within)),
                           "over_budget_share": float(np.mean(~within)), "uniform_students": len(rows)}
    return regimes

