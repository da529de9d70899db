"""Shared pieces of the strategies that search in choice space (evolution, LA-MCTS, RL).

A discrete dimension's level ``k`` owns the bin ``[k/n, (k+1)/n)`` (see ``Dimension``); these
strategies always propose the bin centre, so a proposal names one choice unambiguously and two
proposals of the same choices are the same point.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np

from trade_pipeline.config import StrictModel
from trade_pipeline.optim.base import Dimension

logger = logging.getLogger(__name__)

Config = TypeVar("Config", bound=StrictModel)


def snap_to_levels(points: np.ndarray, dimensions: Sequence[Dimension]) -> np.ndarray:
    """``n x d`` points with every discrete coordinate moved to its level's bin centre."""
    snapped = np.array(points, dtype=np.float64, copy=True).reshape(-1, len(dimensions))
    for j, dimension in enumerate(dimensions):
        if dimension.discrete:
            snapped[:, j] = dimension.centre(dimension.level(snapped[:, j]))
    return snapped


def uniform_choices(rng: np.random.Generator, n: int, dimensions: Sequence[Dimension]) -> np.ndarray:
    """``n x d`` uniform points: every level of a discrete dimension equally likely."""
    return snap_to_levels(rng.random((n, len(dimensions))), dimensions)


def fresh_points(
    n: int, dim: int, draw: Callable[[], np.ndarray], claim: Callable[[np.ndarray], bool], tries: int
) -> np.ndarray:
    """Up to ``n`` points (``m x dim``) from ``draw() -> dim`` whose key ``claim`` accepts, giving up
    after ``n * tries`` draws: the strategy's neighbourhood is then used up, not the space, so
    the caller fills the rest some other way."""
    fresh: list[np.ndarray] = []
    for _ in range(n * tries):
        if len(fresh) == n:
            break
        point = draw()
        if claim(point):
            fresh.append(point)
    return np.array(fresh, dtype=np.float64).reshape(-1, dim)


def fill_failures(values: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """``values`` (``n``) with NaN (failed) replaced by the worst finite value of ``seen``: a
    failure is as bad as the worst success, without inventing a scale; 0 when nothing in
    ``seen`` succeeded (all failures are then equal)."""
    finite = seen[np.isfinite(seen)]
    return np.where(np.isnan(values), finite.max() if finite.size else 0.0, values)
