"""Trust-region candidates in a mixed space of continuous, ordinal and categorical coordinates.

Every coordinate lives on [0, 1]; a discrete one with ``n`` levels is cut into ``n`` equal
bins (``Dimension``) and only its bin centres are ever proposed. The trust region follows
CASMOPOLITAN (Wan et al. 2021, §4): a lengthscale-weighted box for the ordered coordinates
(continuous and ordinal) and a Hamming ball for the discrete ones, both around the region's
best point. The ball bounds how many choices a candidate changes -- categorical ones, as in
CASMOPOLITAN, and ordinal ones too, since one level is the smallest step an ordinal has: as the
region shrinks, candidates change fewer choices instead of moving many by a single level.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from trade_pipeline.optim.base import Dimension, bin_levels
from trade_pipeline.optim.trust_region import sobol_perturbations, trust_region_bounds


@dataclass(frozen=True)
class MixedSpace:
    """Which coordinates are continuous, ordinal or categorical, and their level counts.

    ``levels[i]`` is 0 for a continuous coordinate. ``categorical`` lists the categorical
    coordinates with three or more choices: a two-choice one has a single pair of distinct
    values, hence no order to misread, and is handled as an ordinal (Matérn, box) -- the same
    model, without the overlap kernel's cost. ``conditions``: ``(coordinate, parent, parent
    levels)`` of each conditional coordinate (``Dimension.active_if``).
    """

    levels: tuple[int, ...]
    categorical: tuple[int, ...]
    conditions: tuple[tuple[int, int, tuple[int, ...]], ...] = ()

    @classmethod
    def from_dimensions(cls, dimensions: Sequence[Dimension]) -> MixedSpace:
        conditions = []
        for i, dimension in enumerate(dimensions):
            if dimension.active_if is None:
                continue
            parent, levels = dimension.active_if
            if parent >= i or not dimensions[parent].discrete or max(levels) >= dimensions[parent].levels:
                raise ValueError(f"dimension {i}: active_if {dimension.active_if!r} must name an earlier discrete "
                                 "coordinate and levels it has")
            conditions.append((i, parent, tuple(levels)))
        return cls(
            levels=tuple(dimension.levels or 0 for dimension in dimensions),
            categorical=tuple(
                i for i, d in enumerate(dimensions) if d.kind == "categorical" and d.levels > 2
            ),
            conditions=tuple(conditions),
        )

    @property
    def ordered(self) -> tuple[int, ...]:
        """Continuous and ordinal coordinates: the ones a box and a Matérn kernel make sense on."""
        return tuple(i for i in range(len(self.levels)) if i not in self.categorical)

    @property
    def discrete(self) -> bool:
        return any(self.levels)

    @property
    def n_discrete(self) -> int:
        return sum(levels > 0 for levels in self.levels)

    def level(self, X: torch.Tensor) -> torch.Tensor:
        """``... x d`` level (as a float) of each coordinate; continuous ones count as 1 level.

        The cube's one bin rule (``base.bin_levels``), so ``centre(level(X))`` is bit-identical to the
        bin centres the search space encodes.
        """
        return bin_levels(X, self.counts(X))

    def centre(self, levels: torch.Tensor) -> torch.Tensor:
        """``... x d`` bin centres of ``levels`` (meaningful for discrete coordinates only)."""
        return (levels + 0.5) / self.counts(levels)

    def snap(self, X: torch.Tensor) -> torch.Tensor:
        """``... x d`` points with every discrete coordinate moved to its bin centre."""
        if not self.discrete:
            return X
        return torch.where(self.is_discrete(X), self.centre(self.level(X)), X)

    def canonical(self, X: torch.Tensor) -> torch.Tensor:
        """``... x d`` snapped points with every inactive coordinate (``conditions``) at its
        first level (or 0 if continuous), so points that are the same candidate become equal."""
        X = self.snap(X)
        if not self.conditions:
            return X
        X = X.clone()
        for coordinate, parent, active in self.conditions:  # parents first: a parent made inactive counts
            inactive = ~torch.isin(self.level(X)[..., parent], torch.tensor(active, dtype=X.dtype))
            first = 0.5 / self.levels[coordinate] if self.levels[coordinate] else 0.0
            X[..., coordinate] = torch.where(inactive, torch.full_like(X[..., coordinate], first), X[..., coordinate])
        return X

    def is_discrete(self, like: torch.Tensor) -> torch.Tensor:
        """``d`` mask of the ordinal and categorical coordinates."""
        return torch.tensor(self.levels, device=like.device) > 0

    def counts(self, like: torch.Tensor) -> torch.Tensor:
        """``d`` level counts, 1 for a continuous coordinate (one bin: the whole axis)."""
        return torch.tensor([levels or 1 for levels in self.levels], dtype=like.dtype, device=like.device)

    def snap_array(self, points: np.ndarray) -> np.ndarray:
        """``snap`` for numpy points (``n x d`` or ``d``)."""
        return self.snap(torch.from_numpy(np.asarray(points, dtype=np.float64))).numpy()


def hamming_radius(length: float, n_discrete: int, length_min: float, length_max: float) -> int:
    """Discrete coordinates a candidate may change (CASMOPOLITAN's L_h).

    The ball shrinks geometrically with the box: all ``n_discrete`` at ``length_max`` (where the
    box spans the cube from any centre), one at ``length_min``, so a region ends with one-choice
    steps however few halvings its budget allows before the restart.
    """
    span = math.log(length_max / length_min)
    share = math.log(length / length_min) / span if span > 0 else 1.0
    return max(1, min(n_discrete, round(n_discrete ** share)))


def mixed_candidates(
    center: torch.Tensor,
    lengthscales: torch.Tensor,
    length: float,
    radius: int,
    space: MixedSpace,
    n: int,
    probability: float,
    generator: torch.Generator,
) -> torch.Tensor:
    """Up to ``n x d`` distinct candidates around ``center`` (``d``, snapped).

    ``lengthscales`` (one per ``space.ordered`` coordinate) shape the box. A perturbed
    continuous coordinate takes a Sobol value in the box; a perturbed ordinal one takes another
    level among those the box reaches (always at least a neighbour); a perturbed categorical
    one takes another choice; at most ``radius`` discrete coordinates change. With no
    discrete coordinate this is TuRBO's perturbed-Sobol candidate set, draw for draw.
    """
    lower, upper = _box(center, lengthscales, length, space)
    sobol, mask = sobol_perturbations(n, center.shape[-1], probability, generator, center.dtype)
    if space.discrete:
        discrete = space.is_discrete(center)
        mask[:, discrete] &= _within_radius(mask[:, discrete], radius, generator)
    values = _perturbed_values(center, lower, upper, sobol, space)
    candidates = torch.where(mask, values, center.expand_as(values))
    return torch.unique(candidates, dim=0) if space.discrete else candidates


def region_contains(points: torch.Tensor, center: torch.Tensor, lengthscales: torch.Tensor, length: float,
                    radius: int, space: MixedSpace) -> torch.Tensor:
    """``n`` flags: which of ``points`` (``n x d``, snapped) :func:`mixed_candidates` could draw
    around ``center`` with the same box and ball (every coordinate within the levels or values it
    reaches, at most ``radius`` discrete ones changed)."""
    lower, upper = _box(center, lengthscales, length, space)
    inside = (points >= lower) & (points <= upper)
    if not space.discrete:
        return inside.all(dim=-1)
    discrete = space.is_discrete(center)
    level, first, last = space.level(points), *_reachable_levels(center, lower, upper, space)
    inside = torch.where(discrete, (level >= first) & (level <= last), inside)
    moved = (level != space.level(center)) & discrete
    return inside.all(dim=-1) & (moved.sum(dim=-1) <= radius)


def _box(center: torch.Tensor, lengthscales: torch.Tensor, length: float, space: MixedSpace
         ) -> tuple[torch.Tensor, torch.Tensor]:
    """``d`` lower and upper ends of the region's box: TuRBO's on the ordered coordinates, the
    whole axis on the categorical ones."""
    ordered = list(space.ordered)
    lower, upper = torch.zeros_like(center), torch.ones_like(center)
    if ordered:
        box = trust_region_bounds(center[ordered], lengthscales, length)
        lower[ordered], upper[ordered] = box[0], box[1]
    return lower, upper


def _reachable_levels(center: torch.Tensor, lower: torch.Tensor, upper: torch.Tensor, space: MixedSpace
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """``d`` first and last levels a discrete coordinate may take: those ``[lower, upper]``
    touches, widened to the centre's neighbours for ordinals (categoricals: every choice)."""
    own = space.level(center)
    first = torch.minimum(space.level(lower), (own - 1).clamp(min=0))
    last = torch.maximum(space.level(upper), torch.minimum(own + 1, space.counts(center) - 1))
    return first, last


def _within_radius(moved: torch.Tensor, radius: int, generator: torch.Generator) -> torch.Tensor:
    """``n x k`` mask keeping a random ``radius`` of each row's moved coordinates (all if fewer)."""
    scores = torch.rand(moved.shape, generator=generator, dtype=torch.float64)
    scores = torch.where(moved, scores, torch.full_like(scores, 2.0))
    rank = scores.argsort(dim=-1).argsort(dim=-1)
    return rank < radius


def _perturbed_values(
    center: torch.Tensor,
    lower: torch.Tensor,
    upper: torch.Tensor,
    sobol: torch.Tensor,
    space: MixedSpace,
) -> torch.Tensor:
    """``n x d`` values a perturbed coordinate takes, from Sobol values ``sobol`` (``n x d``).

    Continuous: scaled into ``[lower, upper]``. Discrete: the centre of a level other than the
    centre's, among the levels ``[lower, upper]`` touches, widened to the neighbours for
    ordinals (categoricals get ``[0, 1]``, i.e. every choice).
    """
    continuous = lower + (upper - lower) * sobol
    if not space.discrete:
        return continuous
    own = space.level(center)
    first, last = _reachable_levels(center, lower, upper, space)
    others = last - first  # levels in [first, last] but the centre's own; >= 1 when discrete
    pick = first + torch.minimum((sobol * others).floor(), (others - 1).clamp(min=0))
    pick = pick + (pick >= own).to(pick.dtype)
    return torch.where(space.is_discrete(center), space.centre(pick), continuous)
