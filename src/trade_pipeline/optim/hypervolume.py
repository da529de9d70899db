"""Two-objective trade-offs: one black-box outcome to maximise, one known cost to minimise.

With a single cost the front is a staircase and its hypervolume (the area it dominates above the
reference point's outcome and below its cost) is a sum of rectangles, exact and vectorised over
posterior samples. Because the cost of every candidate is known before evaluation, the staircase's
steps fall at the same costs in every sample: only the outcomes are sampled, so the hypervolume
improvement of ``N`` candidates over ``s`` samples is one ``s x N x M`` tensor operation, no box
decomposition needed (BoTorch's ``qLogNEHVI`` partitions the space because every objective is
uncertain there).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class TradeOff:
    """The search target when there is no single objective: the front of (outcome, known cost).

    ``cost``: ``n x d`` points -> ``n`` costs known before evaluation (NaN: not yet).
    ``bounds``: the outcome's range (e.g. 0-100 % accuracy), modelled on its logit.
    ``reference``: (outcome floor, cost ceiling), the corner from which the hypervolume is measured:
    a point at or below the floor, or at or above the ceiling, adds nothing.
    """

    cost: Callable[[np.ndarray], np.ndarray]
    bounds: tuple[float, float]
    reference: tuple[float, float]


def _staircase(outcomes: torch.Tensor, costs: torch.Tensor, reference: tuple[float, float]
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """The attainment staircase of ``M`` points: ``M + 1`` segment edges along the cost axis (the
    sorted costs clipped at the ceiling, then the ceiling) and, per sample (``outcomes`` ``... x M``),
    the ``M`` outcome levels reached from each edge on: the best outcome at or below that cost."""
    floor, ceiling = reference
    order = torch.argsort(costs)
    edges = torch.cat([costs[order].clamp(max=ceiling), costs.new_tensor([ceiling])])
    levels = torch.cummax(outcomes[..., order], dim=-1).values.clamp(min=floor)
    return edges, levels


def hypervolume(outcomes: np.ndarray, costs: np.ndarray, reference: tuple[float, float]) -> float:
    """The area that ``n`` points (outcome up, cost down; NaN ones ignored) dominate within
    ``reference``'s corner."""
    outcomes, costs = np.asarray(outcomes, dtype=np.float64), np.asarray(costs, dtype=np.float64)
    known = np.isfinite(outcomes) & np.isfinite(costs)
    if not known.any():
        return 0.0
    edges, levels = _staircase(torch.from_numpy(outcomes[known]), torch.from_numpy(costs[known]), reference)
    return float(((edges[1:] - edges[:-1]) * (levels - reference[0])).sum())


def hypervolume_trace(outcomes: np.ndarray, costs: np.ndarray, reference: tuple[float, float]) -> np.ndarray:
    """``n`` hypervolumes: of the first ``k`` points, for each ``k`` (the search's progress). A set
    that grows never loses hypervolume; the running maximum keeps the rounding of each sum from
    showing a fall of 1e-15."""
    trace = [hypervolume(outcomes[: k + 1], costs[: k + 1], reference) for k in range(len(outcomes))]
    return np.maximum.accumulate(np.array(trace)) if trace else np.empty(0)


def nondominated(outcomes: np.ndarray, costs: np.ndarray) -> np.ndarray:
    """``n`` booleans: points no other point beats on one objective while matching it on the
    other (exact ties keep each other; NaN points are never on the front)."""
    outcomes, costs = np.asarray(outcomes, dtype=np.float64), np.asarray(costs, dtype=np.float64)
    known = np.isfinite(outcomes) & np.isfinite(costs)
    o, c = np.where(known, outcomes, -np.inf), np.where(known, costs, np.inf)
    # [i, j]: does point j dominate point i
    no_worse = (o[None, :] >= o[:, None]) & (c[None, :] <= c[:, None])
    better = (o[None, :] > o[:, None]) | (c[None, :] < c[:, None])
    return known & ~(no_worse & better & known[None, :]).any(axis=1)


def hypervolume_improvement(samples: torch.Tensor, costs: torch.Tensor, front_outcomes: torch.Tensor,
                            front_costs: torch.Tensor, reference: tuple[float, float]) -> torch.Tensor:
    """``s x N`` hypervolume each of ``N`` candidates (known ``costs``, sampled outcomes ``samples``
    ``s x N``) would add, alone, to a front of ``M`` points (``front_outcomes`` ``s x M`` or ``M``,
    ``front_costs`` ``M``; dominated points may be among them).

    The candidate dominates the rectangle from its cost to the ceiling and from the floor to its
    outcome; on each segment of the front's staircase it adds the part above that segment's level.
    """
    edges, levels = _staircase(front_outcomes, front_costs, reference)
    lower = torch.cat([edges.new_tensor([-torch.inf]), edges[:-1]])  # M + 1 segments, the first before any point
    levels = torch.cat([torch.full_like(levels[..., :1], reference[0]), levels], dim=-1)
    widths = (edges.unsqueeze(0) - torch.maximum(lower.unsqueeze(0), costs.unsqueeze(-1))).clamp(min=0)  # N x (M + 1)
    heights = (samples.unsqueeze(-1) - levels.unsqueeze(-2)).clamp(min=0)  # s x N x (M + 1)
    return (heights * widths).sum(dim=-1)


def pareto_ranks(outcomes: np.ndarray, costs: np.ndarray) -> np.ndarray:
    """``n`` non-dominated sorting ranks (Deb et al. 2002): 0 for the front, 1 for the front of
    the rest, ...; points without an outcome or cost rank after every other."""
    outcomes, costs = np.asarray(outcomes, dtype=np.float64), np.asarray(costs, dtype=np.float64)
    ranks = np.full(len(outcomes), len(outcomes))
    left = np.isfinite(outcomes) & np.isfinite(costs)
    rank = 0
    while left.any():
        front = nondominated(np.where(left, outcomes, np.nan), costs)
        ranks[front] = rank
        left &= ~front
        rank += 1
    return ranks


def crowding_distances(outcomes: np.ndarray, costs: np.ndarray) -> np.ndarray:
    """``n`` NSGA-II crowding distances of points of one front: the normalised perimeter of the
    box between each point's neighbours along the front, infinite at its two ends."""
    distance = np.zeros(len(outcomes))
    for values in (np.asarray(outcomes, dtype=np.float64), np.asarray(costs, dtype=np.float64)):
        order = np.argsort(values, kind="stable")
        span = values[order[-1]] - values[order[0]]
        distance[order[[0, -1]]] = np.inf
        if len(values) > 2 and span > 0:
            distance[order[1:-1]] += (values[order[2:]] - values[order[:-2]]) / span
    return distance
