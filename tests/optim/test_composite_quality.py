"""Search quality of the default strategy where it was once brittle: Eq. 2's 1/epsilon cliff at the
target, known costs, and spaces of categorical choices with a cheap corner that misses the target.

Each problem is small enough to enumerate, so the optimum is exact and the regret is known."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from trade_pipeline.optim import CompositeObjective, Dimension, create_optimizer
from trade_pipeline.optim.composite import feasibility_first

EPSILON = 0.01


class KnownCostProblem:
    """Accuracy grows with capacity (the costs) and with a hidden good choice per coordinate; the
    cheapest students miss the target. ``share`` of all candidates meet it."""

    def __init__(self, dimensions: list[Dimension], share: float, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.dimensions = dimensions
        self.cost = [rng.uniform(0.02, 0.3, d.levels) for d in dimensions]
        self.quality = [rng.normal(0.0, 0.6, d.levels) for d in dimensions]
        levels = np.array(list(itertools.product(*[range(d.levels) for d in dimensions])))
        self.all_points = (levels + 0.5) / np.array([d.levels for d in dimensions])
        accuracy = self._accuracy_of_levels(levels, bias=0.0)
        self.target = float(np.quantile(accuracy, 1.0 - share))
        self.values = self.value(self.all_points)
        self.optimum = float(self.values.min())

    def _levels(self, points: np.ndarray) -> np.ndarray:
        return np.stack([d.level(points[:, j]) for j, d in enumerate(self.dimensions)], axis=1).astype(int)

    def _accuracy_of_levels(self, levels: np.ndarray, bias: float) -> np.ndarray:
        capacity = sum(np.log(self.cost[j][levels[:, j]]) for j in range(len(self.dimensions)))
        quality = sum(self.quality[j][levels[:, j]] for j in range(len(self.dimensions)))
        return 100.0 / (1.0 + np.exp(-(0.8 * capacity + quality + 6.0 + bias)))

    def accuracy(self, points: np.ndarray) -> np.ndarray:
        return self._accuracy_of_levels(self._levels(np.atleast_2d(points)), bias=0.0)

    def known(self, points: np.ndarray) -> np.ndarray:
        """Two cost ratios: the summed choice costs and, as a second known cost, their square root."""
        levels = self._levels(np.atleast_2d(points))
        total = sum(self.cost[j][levels[:, j]] for j in range(len(self.dimensions)))
        return np.column_stack([total, np.sqrt(total)])

    def log_score(self, accuracy: torch.Tensor, ratios: torch.Tensor) -> torch.Tensor:
        meets = (accuracy >= self.target).to(accuracy.dtype)
        return math.log(self.target) - torch.log(accuracy) - torch.log(meets + EPSILON) + torch.log(ratios.sum(-1))

    def value(self, points: np.ndarray) -> np.ndarray:
        return self.log_score(torch.from_numpy(self.accuracy(points)), torch.from_numpy(self.known(points))).numpy()

    def objective(self) -> CompositeObjective:
        return CompositeObjective(known=self.known, value=self.log_score, bounds=(0.0, 100.0), threshold=self.target)


def search(problem: KnownCostProblem, strategy: str, seed: int, budget: int = 32, batch: int = 4
           ) -> tuple[float, list[bool]]:
    """The regret of one search, and whether each model-guided evaluation met the target."""
    options = {"dimensions": problem.dimensions, "max_evaluations": budget}
    if strategy in ("composite", "turbo"):
        options.update(batch_size=batch, n_candidates=300)
    if strategy == "composite":
        options.update(objective=problem.objective(), n_global=200)
    torch.manual_seed(seed)  # turbo's GP restarts draw on the global generator: same result in any test order
    optimizer = create_optimizer(strategy, len(problem.dimensions), seed, **options)
    guided_met = []
    while len(optimizer.values) < budget:
        points = optimizer.ask(batch)
        accuracy = problem.accuracy(points)
        guided_met += [bool(a >= problem.target) for a, g in zip(accuracy, optimizer.last_guidance) if g["guided"]]
        optimizer.tell(points, problem.value(points), accuracy)
    return float(np.nanmin(optimizer.values)) - problem.optimum, guided_met


PROBLEMS = {
    "mixed": lambda: KnownCostProblem([Dimension("ordinal", 4)] * 3 + [Dimension("categorical", 3)] * 2, share=0.15),
    "categorical": lambda: KnownCostProblem([Dimension("categorical", 4)] * 5, share=0.10, seed=1),
}


@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_the_default_beats_random_search_and_the_black_box_turbo_on_most_seeds_and_gets_near_the_optimum(
        name: str) -> None:
    problem = PROBLEMS[name]()
    cheapest = problem.all_points[np.argmin(problem.known(problem.all_points)[:, 0])]
    assert problem.accuracy(cheapest)[0] < problem.target  # the cheap corner misses the target
    seeds = range(5)
    ours = np.array([search(problem, "composite", seed)[0] for seed in seeds])
    for baseline in ("random", "turbo"):
        theirs = np.array([search(problem, baseline, seed)[0] for seed in seeds])
        assert (ours <= theirs).sum() >= 4, (baseline, ours, theirs)
    # near the optimum: within a tenth of Eq. 2's log score, i.e. 10 % in Score, on most seeds
    assert (ours <= 0.1).sum() >= 4, ours


def test_most_model_guided_evaluations_meet_the_target_where_the_cheap_corner_misses_it() -> None:
    """Where a tenth of the candidates meet the target, expected improvement alone spent most of its
    evaluations on cheap students its own model expected to miss (21-50 % met it, seeds 0-4)."""
    problem = PROBLEMS["categorical"]()
    shares = [np.mean(search(problem, "composite", seed)[1]) for seed in range(3)]
    assert min(shares) >= 0.6, shares


def test_candidates_expected_to_reach_the_target_and_improve_go_first_then_by_probability() -> None:
    gain = torch.tensor([0.2, 5.0, 0.1, 9.0, math.nan, 0.0, 1e-9], dtype=torch.float64)
    p_feasible = torch.tensor([0.9, 0.3, 0.6, 0.1, 0.99, 0.5, 0.95], dtype=torch.float64)
    rank = feasibility_first(gain, p_feasible, 0.5)
    # passing and improving: 0 (gain 0.2), 2 (0.1), by gain; then the others that may improve, 1 (p 0.3) before
    # 3 (p 0.1); then those that cannot (5, 6: sure of the target, no cheaper), by p; NaN last
    assert torch.argsort(rank, descending=True).tolist() == [0, 2, 1, 3, 6, 5, 4]
    # hand-computed: 1 + g / (1 + |g|) if passing and improving, p - 1 if improving only, p - 3 + g if not
    # improving, -4 for an unknown objective
    torch.testing.assert_close(rank, torch.tensor([1 + 0.2 / 1.2, -0.7, 1 + 0.1 / 1.1, -0.9, -4.0, -2.5, 0.95 - 3 + 1e-9],
                                                  dtype=torch.float64))
    # with no threshold to respect (every p 1), it is plain expected improvement
    assert torch.argsort(feasibility_first(gain[:4], torch.ones(4), 0.5), descending=True).tolist() == [3, 1, 0, 2]


def test_candidates_not_expected_to_reach_the_target_go_local_first() -> None:
    gain = torch.tensor([0.2, 5.0, 0.3, 0.0], dtype=torch.float64)
    p_feasible = torch.tensor([0.9, 0.4, 0.2, 0.6], dtype=torch.float64)
    local = torch.tensor([False, False, True, False])
    rank = feasibility_first(gain, p_feasible, 0.5, local)
    # passing: 0 wherever it is; then those that may improve, the local one (2, p 0.2) before the one away
    # from the best (1, p 0.4); by hand: p - 1 local, p - 2 away
    assert torch.argsort(rank, descending=True).tolist() == [0, 2, 1, 3]
    torch.testing.assert_close(rank[:3], torch.tensor([1 + 0.2 / 1.2, 0.4 - 2, 0.2 - 1], dtype=torch.float64))
    torch.testing.assert_close(feasibility_first(gain, p_feasible, 0.5, torch.ones(4, dtype=torch.bool)),
                               feasibility_first(gain, p_feasible, 0.5))


def test_the_search_stays_global_until_a_student_reaches_the_target_then_local_first() -> None:
    problem = PROBLEMS["categorical"]()
    optimizer = create_optimizer("composite", len(problem.dimensions), 0, dimensions=problem.dimensions,
                                 max_evaluations=32, batch_size=4, objective=problem.objective())
    ranked = problem.all_points[np.argsort(problem.accuracy(problem.all_points))]
    misses = ranked[:8]  # the least accurate: none meets the target
    optimizer.tell(misses, problem.value(misses), problem.accuracy(misses))
    region = optimizer._regions[0]
    model = optimizer._fit_outcome_model(np.arange(8), seed=0)
    candidates = torch.from_numpy(problem.all_points)
    assert optimizer._near_best(region, model)(candidates).all()

    best = ranked[-1:]  # the most accurate meets it, and becomes the region's best point
    optimizer.tell(best, problem.value(best), problem.accuracy(best))
    region = optimizer._regions[0]
    near = optimizer._near_best(region, model)(candidates)
    assert 0 < near.sum() < len(candidates)
    changed = (problem._levels(problem.all_points) != problem._levels(best)).sum(axis=1)
    assert near[torch.from_numpy(changed == 0)].all() and not near[torch.from_numpy(changed == 5)].any()
