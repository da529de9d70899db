"""Analytic test problems on the unit cube, shared by the optimizer benchmarks.

Each has a known optimum of 0, so the best value found is the regret:

  * ``ackley20``: Ackley on [-5, 10]^20, all continuous (the TuRBO paper's test); 400 evaluations.
  * ``choices``: 32 choices (19 two-level and 5 three-level ordinals, 4 two-choice and 4
    four-choice categoricals); weighted distances to a hidden target plus pairwise
    interactions; 50 evaluations.
  * ``base_space``: the same function on exactly conf/base's kinds (19 two-level and 5
    three-level ordinals, 8 two-choice categoricals): the search's own encoded space.
  * ``ackley_mixed``: Ackley on an integer grid, 10 ordinal coordinates (levels -2..4) and
    10 categorical ones (the same 7 values, shuffled); 50 evaluations.

The problems are fixed (drawn once with seed 0); benchmark seeds vary the optimizers only.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from trade_pipeline.optim.base import Dimension

PROBLEMS = ("ackley20", "choices", "base_space", "ackley_mixed")
Objective = Callable[[np.ndarray], np.ndarray]


def ackley(x: np.ndarray) -> np.ndarray:
    """``n x d`` real points -> ``n`` values; minimum 0 at the origin."""
    return (
        -20.0 * np.exp(-0.2 * np.sqrt((x**2).mean(-1)))
        - np.exp(np.cos(2.0 * np.pi * x).mean(-1))
        + 20.0
        + np.e
    )


def levels_of(points: np.ndarray, dimensions: list[Dimension]) -> np.ndarray:
    """``n x d`` unit-cube points -> ``n x d`` integer levels (discrete coordinates only)."""
    return np.stack([d.level(points[:, j]) for j, d in enumerate(dimensions)], axis=1)


def make_problem(name: str) -> tuple[list[Dimension], Objective, int]:
    """(dimensions, objective on ``n x d`` unit points -> ``n`` values, default budget)."""
    if name == "ackley20":
        return [Dimension()] * 20, lambda u: ackley(-5.0 + 15.0 * u), 400
    rng = np.random.default_rng(0)  # one fixed problem; seeds vary the optimizers
    if name == "ackley_mixed":
        dims = [Dimension("ordinal", 7)] * 10 + [Dimension("categorical", 7)] * 10
        grid = np.arange(-2, 5)  # the optimum 0 is level 2 of the ordinals
        values = np.array([grid if j < 10 else rng.permutation(grid) for j in range(20)])
        return dims, lambda u: ackley(np.take_along_axis(values.T, levels_of(u, dims), axis=0)), 50
    if name in ("choices", "base_space"):
        four_choices = 4 if name == "choices" else 2
        dims = ([Dimension("ordinal", 2)] * 19 + [Dimension("ordinal", 3)] * 5
                + [Dimension("categorical", 2)] * 4 + [Dimension("categorical", four_choices)] * 4)
        counts = np.array([d.levels for d in dims])
        target = rng.integers(0, counts)
        weights = np.exp(rng.uniform(np.log(0.05), 0.0, len(dims)))  # a few choices matter most
        ordinal = np.array([d.kind == "ordinal" for d in dims])
        pairs = rng.choice(len(dims), size=(12, 2), replace=False)
        pair_weights = rng.uniform(0.2, 1.0, len(pairs))

        def choices(u: np.ndarray) -> np.ndarray:
            levels = levels_of(u, dims)
            off = np.where(ordinal, np.abs(levels - target) / (counts - 1), levels != target)
            interactions = (off[:, pairs[:, 0]] * off[:, pairs[:, 1]]) @ pair_weights
            return off @ weights + interactions

        return dims, choices, 50
    raise ValueError(f"unknown problem {name!r}; use one of {PROBLEMS}")
