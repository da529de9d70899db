"""Fronts of (outcome up, known cost down): hypervolume, its improvement, sorting, and the searches of a front."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from trade_pipeline.optim import CompositeTurbo, Dimension, RegularizedEvolution
from trade_pipeline.optim.hypervolume import (
    TradeOff,
    crowding_distances,
    hypervolume,
    hypervolume_improvement,
    hypervolume_trace,
    nondominated,
    pareto_ranks,
)

REFERENCE = (0.0, 4.0)  # outcome floor, cost ceiling


def test_hypervolume_of_a_staircase_is_the_area_of_its_rectangles_by_hand():
    # (outcome 5 at cost 1) and (8 at 2): [1, 4] x [0, 5] plus [2, 4] x [5, 8] = 15 + 6
    assert hypervolume([5.0, 8.0], [1.0, 2.0], REFERENCE) == pytest.approx(21.0)
    # a dominated point (4 at cost 3), one past the ceiling and one below the floor add nothing
    assert hypervolume([5.0, 8.0, 4.0, 99.0, -1.0], [1.0, 2.0, 3.0, 5.0, 0.5], REFERENCE) == pytest.approx(21.0)
    # failures (NaN) are ignored, and nothing dominates nothing
    assert hypervolume([5.0, np.nan], [1.0, 0.1], REFERENCE) == pytest.approx(15.0)
    assert hypervolume([], [], REFERENCE) == 0.0


def test_the_trace_is_the_hypervolume_of_each_prefix():
    assert hypervolume_trace(np.array([5.0, 4.0, 8.0]), np.array([1.0, 3.0, 2.0]), REFERENCE).tolist() == \
        pytest.approx([15.0, 15.0, 21.0])


def test_a_candidates_improvement_is_what_adding_it_adds_to_the_hypervolume():
    rng = np.random.default_rng(0)
    outcomes, costs = rng.uniform(0, 10, 7), rng.uniform(0, 5, 7)
    candidates = np.array([[7.0, 1.5], [3.0, 0.2], [11.0, 3.9], [5.0, 5.0], [9.5, 0.05]])  # outcome, cost
    improvement = hypervolume_improvement(torch.tensor(candidates[:, :1].T), torch.tensor(candidates[:, 1]),
                                          torch.tensor(outcomes), torch.tensor(costs), REFERENCE)
    expected = [hypervolume(np.r_[outcomes, o], np.r_[costs, c], REFERENCE) - hypervolume(outcomes, costs, REFERENCE)
                for o, c in candidates]
    assert improvement.shape == (1, 5) and improvement[0].tolist() == pytest.approx(expected)


def test_each_sample_is_measured_against_its_own_front():
    # sample 0's front point is low (2), sample 1's high (9): a candidate at 6 adds only in sample 0
    improvement = hypervolume_improvement(torch.tensor([[6.0], [6.0]]), torch.tensor([1.0]),
                                          torch.tensor([[2.0], [9.0]]), torch.tensor([1.0]), REFERENCE)
    assert improvement[:, 0].tolist() == pytest.approx([3 * 4.0, 0.0])


def test_non_dominated_sorting_and_crowding_by_hand():
    outcomes = np.array([5.0, 8.0, 4.0, 7.0, np.nan, 5.0])
    costs = np.array([1.0, 2.0, 3.0, 3.0, 0.1, 1.0])
    assert nondominated(outcomes, costs).tolist() == [True, True, False, False, False, True]  # a tie keeps both
    assert pareto_ranks(outcomes, costs).tolist() == [0, 0, 2, 1, 6, 0]
    # three points: the ends are infinitely far, the middle one's box spans (8 - 2) / 6 + (3 - 1) / 2
    distance = crowding_distances(np.array([2.0, 5.0, 8.0]), np.array([1.0, 2.0, 3.0]))
    assert distance[[0, 2]].tolist() == [np.inf, np.inf] and distance[1] == pytest.approx(2.0)


def _trade_off(reference=(0.0, 1.0)) -> TradeOff:
    """The cost is the first coordinate; outcomes are accuracies in 0-100."""
    return TradeOff(cost=lambda points: np.atleast_2d(points)[:, 0].copy(), bounds=(0.0, 100.0), reference=reference)


def test_the_greedy_batch_skips_a_candidate_the_first_pick_makes_redundant():
    optimizer = CompositeTurbo(2, seed=0, trade_off=_trade_off(), batch_size=2)
    optimizer.tell(np.array([[0.5, 0.5]]), np.array([0.0]), np.array([50.0]))  # the front: 50 % at cost 0.5
    candidates = np.array([[0.1, 0.2], [0.12, 0.8], [0.6, 0.3]])  # A, B (just beside A), C
    samples = torch.tensor([[60.0, 59.0, 80.0]]).repeat(4, 1)
    # alone: A adds 0.9 * 60 - 0.5 * 50 = 29, B 0.88 * 59 - 25 = 26.9, C 0.4 * (80 - 50) = 12;
    # once A is in, B adds nothing and C 0.4 * (80 - 60) = 8
    gain = optimizer._hypervolume_gain(samples, candidates)
    assert gain.tolist() == pytest.approx([29.0, 26.92, 12.0], abs=1e-6)
    assert optimizer._greedy_hypervolume(samples, candidates, 2) == [0, 2]


def _front_problem(points: np.ndarray) -> np.ndarray:
    """Accuracy rises with the cost (first coordinate) and with a matching choice of two others."""
    matches = (np.round(points[:, 1] * 3 - 0.5) == 1) + (np.round(points[:, 2] * 3 - 0.5) == 2)
    return 20 + 60 * points[:, 0] ** 0.5 * (0.5 + 0.25 * matches)


DIMENSIONS = (Dimension(), Dimension("categorical", 3), Dimension("categorical", 3), Dimension())


def _search(strategy, seed: int, budget: int = 24) -> np.ndarray:
    options = {"trade_off": _trade_off()} | ({"batch_size": 4, "n_init": 8, "n_candidates": 200, "n_global": 100}
                                             if strategy is CompositeTurbo else {"population_size": 8})
    optimizer = strategy(4, seed=seed, dimensions=DIMENSIONS, max_evaluations=budget, **options)
    while len(optimizer.values) < budget:
        points = optimizer.ask(4)
        accuracy = _front_problem(points)
        optimizer.tell(points, np.log((points[:, 0] + 1e-3) / accuracy), accuracy)
    return optimizer


def test_the_composite_search_of_a_front_beats_uniform_points_on_most_seeds():
    won = 0
    for seed in range(3):
        found = _search(CompositeTurbo, seed)
        uniform = np.random.default_rng(seed).random((24, 4))
        won += hypervolume(found.outcomes, found.points[:, 0], (0.0, 1.0)) > \
            hypervolume(_front_problem(uniform), uniform[:, 0], (0.0, 1.0))
    assert won >= 2


def test_a_resumed_search_of_a_front_proposes_the_same_batch():
    original = _search(CompositeTurbo, seed=1, budget=16)
    resumed = CompositeTurbo(4, seed=1, dimensions=DIMENSIONS, max_evaluations=20, trade_off=_trade_off(),
                             batch_size=4, n_init=8, n_candidates=200, n_global=100)
    resumed.load_state_dict(original.state_dict())
    original.max_evaluations = resumed.max_evaluations = 20
    asked = original.ask(4)
    assert np.array_equal(asked, resumed.ask(4))
    assert all(origin["guided"] and origin["p_feasible"] is None for origin in original.last_guidance)


def test_evolution_on_a_front_breeds_from_the_least_crowded_member_of_the_lowest_rank():
    optimizer = RegularizedEvolution(2, seed=0, trade_off=_trade_off(), population_size=4, tournament_size=4)
    points = np.array([[0.2, 0.1], [0.5, 0.2], [0.9, 0.3], [0.6, 0.4]])
    optimizer.tell(points, np.zeros(4), np.array([40.0, 60.0, 90.0, 50.0]))
    # ranks 0, 0, 0, 1 (the last is beaten by 60 % at 0.5); of the front, the two ends are least crowded
    assert optimizer.tournament_winner() in (0, 2)


def test_a_strategy_gets_an_objective_or_a_trade_off_not_both():
    from trade_pipeline.optim import CompositeObjective

    objective = CompositeObjective(known=lambda p: p, value=lambda a, k: a, bounds=(0.0, 1.0))
    with pytest.raises(ValueError, match="not both"):
        CompositeTurbo(2, objective=objective, trade_off=_trade_off())
