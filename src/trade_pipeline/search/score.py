"""The KD-guided score of TRADE (§3.1, Eq. 2), the resource budget checked before training, and
the reference point of the search for the accuracy-cost front (``search.objective: pareto``).

Costs are compared to the teacher's, so one budget works for any teacher: a student with a
third of the teacher's params, MACs and latency has ``s = 1``. MACs are what the paper calls
FLOPS (multiply-adds, timm convention).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from pydantic import Field

from trade_pipeline.config import StrictModel

# Teacher profile keys, each paired with the name used in budget messages.
COST_NAMES = {"params": "params", "macs": "macs", "latency_ms": "latency"}


def cost_ratios(
    params: float, macs: float, latency_ms: float, teacher: Mapping[str, float]
) -> dict[str, float]:
    """Each student cost divided by the teacher's: ``{"params": .., "macs": .., "latency": ..}``."""
    student = {"params": params, "macs": macs, "latency_ms": latency_ms}
    ratios = {}
    for key, name in COST_NAMES.items():
        reference = teacher.get(key)
        if reference is None or not reference > 0:
            raise ValueError(
                f"teacher profile needs a positive '{key}', got {reference!r}; "
                "rerun the teacher pipeline to profile it"
            )
        ratios[name] = student[key] / reference
    return ratios


def resource_ratio(
    params: float, macs: float, latency_ms: float, teacher: Mapping[str, float]
) -> float:
    """``s`` of Eq. 2: how heavy the student is, summed over the three costs, in teacher units."""
    # Eq. 2: s = NP_s/NP_t + FLOPS_s/FLOPS_t + Latency_s/Latency_t
    return sum(cost_ratios(params, macs, latency_ms, teacher).values())


@dataclass(frozen=True)
class KDGuidedScore:
    """Eq. 2 at one accuracy target, to be minimised: the one place the score is written.

    Both accuracies must be in the same proxy units (fractions or percent). A student at or
    above ``acc_target`` scores ``acc_target / (acc_student * (1 + epsilon)) * s``; one below it
    loses the indicator and is penalised by ``1 / epsilon`` instead, so with a small epsilon
    (e.g. 0.01) any student meeting the target beats any student missing it by roughly a
    factor ``1 / epsilon`` for similar ``s``. A student with zero accuracy learned nothing and
    scores ``+inf``. The searches model its log.
    """

    acc_target: float
    epsilon: float

    def __post_init__(self) -> None:
        if not self.epsilon > 0:
            raise ValueError(f"epsilon must be a small positive number such as 0.01, got {self.epsilon!r}")
        if not self.acc_target > 0:
            raise ValueError(f"acc_target must be positive (proxy accuracy units), got {self.acc_target!r}")

    def value(self, acc_student: float, s: float) -> float:
        """The score of a trained student with proxy accuracy ``acc_student`` and resource ratio ``s``."""
        if not acc_student >= 0:
            raise ValueError(f"acc_student must be a proxy accuracy >= 0, got {acc_student!r}")
        if acc_student == 0:
            return math.inf
        meets_target = 1.0 if self.acc_target <= acc_student else 0.0
        # Eq. 2: Score = Acc_target / (Acc_student * (1[Acc_target <= Acc_student] + eps)) * s
        return self.acc_target / (acc_student * (meets_target + self.epsilon)) * s

    def log_value(self, acc_student: float, s: float) -> float:
        """``log`` of :meth:`value`; NaN for a student that learned nothing (or has no cost)."""
        score = self.value(acc_student, s)
        return math.log(score) if 0 < score < math.inf else math.nan

    def log_values(self, acc_student: torch.Tensor, ratios: torch.Tensor) -> torch.Tensor:
        """``log`` of :meth:`value` for sampled accuracies ``acc_student`` (``... x n``) of ``n``
        students with cost ratios ``ratios`` (``n x k``; ``s`` is their sum): what the
        structure-aware search computes from its accuracy model and the known costs."""
        s = ratios.sum(dim=-1)
        meets_target = (acc_student >= self.acc_target).to(acc_student.dtype)
        # Eq. 2 in logs: log Acc_target - log Acc_student - log(1[Acc_target <= Acc_student] + eps) + log s
        return (math.log(self.acc_target) - torch.log(acc_student) - torch.log(meets_target + self.epsilon)
                + torch.log(s))

    def expected_log_value(self, acc_student: np.ndarray, weights: np.ndarray, s: float) -> float:
        """The ``weights``-weighted mean of the log score over possible accuracies ``acc_student``
        of one student with resource ratio ``s`` (e.g. quadrature nodes of a predicted accuracy)."""
        accuracies = torch.as_tensor(np.asarray(acc_student, dtype=np.float64)).unsqueeze(-1)
        values = self.log_values(accuracies, torch.tensor([[s]], dtype=torch.float64)).squeeze(-1).numpy()
        return float(np.sum(weights * values) / np.sum(weights))


class Budget(StrictModel):
    """Upper bounds on the teacher-relative costs (``search.budget``); ``None`` leaves one unlimited.

    Checked on the untrained candidate, so an over-budget student costs no training.
    """

    max_params_ratio: float | None = Field(default=None, gt=0)
    max_macs_ratio: float | None = Field(default=None, gt=0)
    max_latency_ratio: float | None = Field(default=None, gt=0)
    max_s: float | None = Field(default=None, gt=0)

    @property
    def limited(self) -> bool:
        """Whether any limit is set (else every candidate is within budget)."""
        return any(value is not None for value in self.model_dump().values())

    def violation(
        self, params: float, macs: float, latency_ms: float, teacher: Mapping[str, float]
    ) -> str | None:
        """Every broken limit, e.g. ``"macs ratio 0.41 > max_macs_ratio 0.25"``, or None when within."""
        ratios = cost_ratios(params, macs, latency_ms, teacher)
        measured = {f"max_{name}_ratio": (f"{name} ratio", value) for name, value in ratios.items()}
        measured["max_s"] = ("s", sum(ratios.values()))
        reasons = [
            f"{label} {value:.4g} > {limit_name} {limit:.4g}"
            for limit_name, (label, value) in measured.items()
            if (limit := getattr(self, limit_name)) is not None and value > limit
        ]
        return "; ".join(reasons) or None


TEACHER_S = 3.0
"""Eq. 2's resource ratio of the teacher itself (each of its three cost ratios is 1)."""


class ParetoParams(StrictModel):
    """``search.pareto``: the reference point of the front's hypervolume (``search.objective: pareto``).

    The front is proxy accuracy (up) against Eq. 2's ``s`` (down), not each cost on its own axis:
    Eq. 2's best student at any target is on this two-objective front (its score falls with
    accuracy and rises with ``s``), so one search serves every target, and a two-dimensional
    hypervolume is exact and cheap.
    """

    max_s: float | None = Field(default=None, gt=0)
    """The cost ceiling: students at or above it add nothing. Default: ``search.budget.max_s``,
    else 3, the teacher's own ``s`` (a student as heavy as its teacher is no trade-off)."""
    min_accuracy: float | None = Field(default=None, ge=0, lt=100)
    """The accuracy floor (proxy top-1 %). Default: chance, 100 / classes."""

    def reference(self, budget: Budget, num_classes: int) -> tuple[float, float]:
        """(accuracy floor, ``s`` ceiling), the defaults resolved."""
        ceiling = self.max_s or budget.max_s or TEACHER_S
        return (self.min_accuracy if self.min_accuracy is not None else 100.0 / num_classes, ceiling)
