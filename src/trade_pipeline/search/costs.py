"""A candidate's costs before it is trained: what the structure-aware search is told.

Params and MACs are exact (``students.costs.StudentCostTable``). Latency can only be measured,
so it is predicted by a small per-device model fitted on the candidates measured so far in
this search: non-negative least squares on what a batch-1 forward pays for on a CPU or
behind a GPU's launch queue -- a fixed cost, a cost per layer of each kind, and a cost per MAC.
Its error against the latencies then measured is reported (``LatencyModel.errors``).
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import nnls

from trade_pipeline.optim import CompositeObjective
from trade_pipeline.optim.base import bin_levels
from trade_pipeline.optim.hypervolume import TradeOff
from trade_pipeline.search.score import COST_NAMES, Budget, KDGuidedScore
from trade_pipeline.students.costs import StudentCostTable
from trade_pipeline.students.space import SearchSpace
from trade_pipeline.students.spec import ArchitectureSpec

LATENCY_FEATURES = ("fixed", "fused_mbconv_layers", "mbconv_layers", "se_layers", "transformer_blocks", "mmacs")
MIN_LATENCY_FIT = 3
"""Measured candidates before latency is predicted (and budgeted); until then it is unknown."""


def latency_features(spec: ArchitectureSpec, macs: float) -> np.ndarray:
    """``LATENCY_FEATURES`` of ``spec``: what its forward pass pays for."""
    layers = {"fused_mbconv": 0, "mbconv": 0}
    se_layers = 0
    for block in spec.present_blocks:
        layers[block.block_type] += block.layers
        se_layers += block.layers if block.se_ratio > 0 else 0
    depth = spec.transformer.depth if spec.transformer is not None else 0
    return np.array([1.0, layers["fused_mbconv"], layers["mbconv"], se_layers, depth, macs / 1e6])


@dataclass
class LatencyModel:
    """Latency (ms) as a non-negative combination of ``LATENCY_FEATURES``, refitted from scratch
    on every measurement, so it depends only on the measurements (resume gives the same model)."""

    weights: np.ndarray | None = None
    observed: list[tuple[np.ndarray, float]] = field(default_factory=list)
    errors: list[float] = field(default_factory=list)
    """Relative error of each prediction made before its candidate was measured."""

    def predict(self, features: np.ndarray) -> np.ndarray:
        """``n`` latencies for ``n x f`` features; NaN until ``MIN_LATENCY_FIT`` measurements."""
        features = np.atleast_2d(features)
        if self.weights is None:
            return np.full(len(features), math.nan)
        return features @ self.weights

    def observe(self, features: np.ndarray, latency_ms: float) -> None:
        predicted = float(self.predict(features)[0])
        if math.isfinite(predicted) and latency_ms > 0:
            self.errors.append(abs(predicted - latency_ms) / latency_ms)
        self.observed.append((features, latency_ms))
        if len(self.observed) >= MIN_LATENCY_FIT:
            X = np.stack([f for f, _ in self.observed])
            y = np.array([latency for _, latency in self.observed])
            self.weights = nnls(X, y)[0]


class CandidateCosts:
    """Cost ratios (params, MACs, latency against the teacher's) and budget checks for cube points.

    Exact params and MACs, memoised by each point's choice levels; latency from
    :class:`LatencyModel`, told each measured candidate through :meth:`observe`.
    """

    def __init__(self, space: SearchSpace, in_chans: int, num_classes: int, teacher_costs: Mapping[str, float],
                 budget: Budget) -> None:
        self.space = space
        self.table = StudentCostTable(in_chans, num_classes, space.img_size)
        self.teacher_costs = dict(teacher_costs)
        self.budget = budget
        self.latency = LatencyModel()
        self._levels = np.array([dimension.levels or 0 for dimension in space.dimensions])
        self._known: dict[bytes, tuple[int, int, np.ndarray]] = {}

    def _spec_costs(self, spec: ArchitectureSpec) -> tuple[int, int, np.ndarray]:
        params, macs = self.table(spec)
        return params, macs, latency_features(spec, macs)

    def costs(self, points: np.ndarray) -> np.ndarray:
        """``n x 3`` (params, MACs, predicted latency ms) of ``n x d`` cube points, memoised by each
        point's choice levels (cheaper than decoding and hashing its spec)."""
        points = np.atleast_2d(points)
        if not len(points):
            return np.empty((0, 3))
        keys = np.where(self._levels > 0, bin_levels(points, self._levels), points)
        keys = [key.tobytes() for key in keys]
        missing = {key: i for i, key in enumerate(keys) if key not in self._known}
        if missing:
            specs = self.space.decode_many(points[list(missing.values())])
            self._known.update((key, self._spec_costs(spec)) for key, spec in zip(missing, specs))
        exact = [self._known[key] for key in keys]
        latency = self.latency.predict(np.stack([features for _, _, features in exact]))
        return np.column_stack([[params for params, _, _ in exact], [macs for _, macs, _ in exact], latency])

    def ratios(self, points: np.ndarray) -> np.ndarray:
        """``n x 3`` cost ratios (``COST_NAMES`` order; Eq. 2's ``s`` is their sum)."""
        teacher = np.array([self.teacher_costs[key] for key in COST_NAMES])
        return self.costs(points) / teacher

    def within_budget(self, point: np.ndarray) -> bool:
        """Whether ``point``'s known costs meet ``search.budget``; an unknown latency passes."""
        params, macs, latency = self.costs(point)[0]
        if not math.isfinite(latency):  # nothing measured yet: only params and MACs can be judged
            budget = self.budget.model_copy(update={"max_latency_ratio": None, "max_s": None})
            latency = 0.0
        else:
            budget = self.budget
        return budget.violation(params, macs, latency, self.teacher_costs) is None

    def observe(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Fit the latency model to the trial rows' measured latencies, in log order."""
        for row in rows:
            if row.get("latency_ms") is not None and row["latency_ms"] > 0:
                spec = ArchitectureSpec.from_json(row["spec_json"])
                self.latency.observe(self._spec_costs(spec)[2], float(row["latency_ms"]))

    @property
    def latency_error(self) -> float | None:
        """Median relative error of the latency predictions so far (None before any)."""
        return float(np.median(self.latency.errors)) if self.latency.errors else None


def composite_objective(costs: CandidateCosts, score: KDGuidedScore) -> CompositeObjective:
    """Eq. 2's log score as the ``composite`` strategy sees it: proxy accuracy (0-100 %) is the
    black box, the cost ratios are known."""
    return CompositeObjective(known=costs.ratios, value=score.log_values, bounds=(0.0, 100.0),
                              threshold=score.acc_target)


def accuracy_cost_trade_off(costs: CandidateCosts, reference: tuple[float, float]) -> TradeOff:
    """The front a ``search.objective: pareto`` search grows: proxy accuracy (0-100 %, the black
    box) against Eq. 2's ``s``, known before training, from ``reference`` (accuracy floor, ``s`` ceiling)."""
    return TradeOff(cost=lambda points: costs.ratios(points).sum(axis=1), bounds=(0.0, 100.0), reference=reference)
