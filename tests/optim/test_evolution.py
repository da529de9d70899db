"""Regularised evolution: aging, tournaments, one-choice mutations, dedup, resume, beats random."""

import logging

import numpy as np
import pytest

from trade_pipeline.optim import RandomSearch
from trade_pipeline.optim.base import Dimension
from trade_pipeline.optim.evolution import EvolutionConfig, RegularizedEvolution, mutate

MIXED = (Dimension("ordinal", 4), Dimension("categorical", 3), Dimension(), Dimension("ordinal", 5))
TOY = (Dimension("ordinal", 6),) * 6 + (Dimension("categorical", 4),) * 2
TOY_TARGET = np.array([1, 4, 2, 5, 0, 3])
TOY_CATEGORY_COST = np.array([[0.0, 1.5, 3.0, 2.0], [2.5, 0.0, 1.0, 3.0]])


def levels(points: np.ndarray, dimensions) -> np.ndarray:
    """``n x d`` level of every discrete coordinate (continuous ones left as they are)."""
    return np.column_stack([
        dimension.level(points[:, j]) if dimension.discrete else points[:, j]
        for j, dimension in enumerate(dimensions)
    ])


def choice_key(dimensions):
    return lambda point: tuple(levels(point[None], dimensions)[0].tolist())


def toy(points: np.ndarray) -> np.ndarray:
    """log(1 + cost) of 6 ordinal and 2 categorical choices (minimum 0), like log(Score)."""
    chosen = levels(points, TOY).astype(int)
    cost = ((chosen[:, :6] - TOY_TARGET) ** 2).sum(axis=1)
    cost = cost + TOY_CATEGORY_COST[0, chosen[:, 6]] + TOY_CATEGORY_COST[1, chosen[:, 7]]
    return np.log1p(cost)


def minimise(optimizer, objective, budget: int, batch_size: int) -> np.ndarray:
    while len(optimizer.values) < budget:
        points = optimizer.ask(min(batch_size, budget - len(optimizer.values)))
        optimizer.tell(points, objective(points))
    return optimizer.values


def assert_at_bin_centres(points: np.ndarray, dimensions) -> None:
    for j, dimension in enumerate(dimensions):
        if dimension.discrete:
            np.testing.assert_allclose(points[:, j], dimension.centre(dimension.level(points[:, j])))


def test_random_then_mutated_points_are_in_the_cube_at_bin_centres():
    optimizer = RegularizedEvolution(4, seed=0, dimensions=MIXED, population_size=6, tournament_size=3)
    for _ in range(4):
        points = optimizer.ask(3)
        assert points.shape == (3, 4) and ((points >= 0) & (points <= 1)).all()
        assert_at_bin_centres(points, MIXED)
        optimizer.tell(points, points.sum(axis=1))
    assert optimizer.last_region_ids == [0, 0, 0]  # population full: children


def test_never_reproposes_a_key_and_stops_short_when_the_space_is_exhausted(caplog):
    small = (Dimension("ordinal", 3), Dimension("categorical", 3))  # 9 distinct keys
    key = choice_key(small)
    optimizer = RegularizedEvolution(2, seed=0, dimensions=small, canonicalize=key,
                                     population_size=3, tournament_size=2)
    first = optimizer.ask(3)
    optimizer.tell(first, first.sum(axis=1))
    second = optimizer.ask(4)
    pending = optimizer.ask(4)  # only 2 keys remain, the 4 pending ones count as taken
    with caplog.at_level(logging.WARNING, logger="trade_pipeline.optim"):
        optimizer.tell(second, second.sum(axis=1))
        assert optimizer.ask(2).shape == (0, 2)
    keys = [key(point) for point in np.vstack([first, second, pending])]
    assert len(pending) == 2 and len(set(keys)) == len(keys) == 9
    assert "search space looks exhausted" in caplog.text


def test_aging_removes_the_oldest_member_not_the_worst():
    optimizer = RegularizedEvolution(2, seed=0, population_size=3, tournament_size=2)
    optimizer.tell(np.array([[0.1, 0.1], [0.2, 0.2], [0.3, 0.3]]), np.array([0.0, 5.0, 9.0]))
    assert optimizer.population == [0, 1, 2]
    optimizer.tell(np.array([[0.4, 0.4]]), np.array([7.0]))
    assert optimizer.population == [1, 2, 3]  # the best (row 0) died of age; 9.0 lives on


def test_tournament_winner_is_the_best_of_its_sample_and_failures_never_win():
    optimizer = RegularizedEvolution(1, seed=0, population_size=10, tournament_size=5)
    values = np.array([3.0, np.nan, 0.0, 8.0, 1.0, 6.0, 2.0, 7.0, 4.0, 5.0])
    optimizer.tell(np.linspace(0.05, 0.95, 10)[:, None], values)
    winners = np.array([optimizer.tournament_winner() for _ in range(2000)])
    # a sample of 5 of 10 always holds one of the 6 best, so the 4 worst (NaN among them) never win
    assert not np.isin(winners, [1, 3, 5, 7]).any()
    # the best wins whenever sampled: with probability 5/10
    assert 0.45 < np.mean(winners == 2) < 0.55


def test_a_child_differs_from_its_parent_in_exactly_one_choice():
    rng = np.random.default_rng(0)
    parent = np.array([0.125, 0.5, 0.97, 0.3])
    changed = []
    for _ in range(500):
        child = mutate(parent, MIXED, sigma=0.1, rng=rng)
        differs = levels(child[None], MIXED)[0] != levels(parent[None], MIXED)[0]
        assert differs.sum() == 1 and 0 <= child.min() and child.max() <= 1
        changed.append(int(np.flatnonzero(differs)[0]))
    assert set(changed) == {0, 1, 2, 3}  # every coordinate can mutate


def test_tournament_larger_than_population_is_rejected_naming_both_fields():
    with pytest.raises(ValueError, match=r"tournament_size \(8\) must be <= population_size \(4\)"):
        RegularizedEvolution(2, population_size=4, tournament_size=8)
    with pytest.raises(ValueError, match="tournament_size"):
        EvolutionConfig(tournament_size=30)


def test_settings_come_from_a_config_with_keyword_options_winning():
    config = EvolutionConfig(population_size=10, mutation_sigma=0.3)
    optimizer = RegularizedEvolution(2, config=config, tournament_size=2)
    assert optimizer.config == EvolutionConfig(population_size=10, tournament_size=2, mutation_sigma=0.3)
    assert optimizer.initial_evaluations == 10 and RegularizedEvolution.config_class is EvolutionConfig


def test_told_points_that_were_never_asked_fill_the_population_and_breed():
    optimizer = RegularizedEvolution(3, seed=0, population_size=5, tournament_size=5)
    shared_design = np.random.default_rng(1).random((5, 3))
    values = np.array([4.0, 3.0, 0.5, 2.0, 1.0])
    optimizer.tell(shared_design, values)
    children = optimizer.ask(4)
    assert optimizer.last_region_ids == [0, 0, 0, 0]
    # tournament_size == population_size: every parent is the best shared point
    assert ((children != shared_design[2]).sum(axis=1) == 1).all()


def test_evolution_beats_random_search_on_a_discrete_toy_at_equal_budget():
    budget, seeds, key = 100, range(5), choice_key(TOY)
    evolution = [
        minimise(RegularizedEvolution(8, seed, dimensions=TOY, canonicalize=key), toy, budget, 10).min()
        for seed in seeds
    ]
    random = [minimise(RandomSearch(8, seed, canonicalize=key), toy, budget, 10).min() for seed in seeds]
    assert sum(e < r for e, r in zip(evolution, random)) >= 4, (evolution, random)
    assert np.mean(evolution) < np.mean(random), (evolution, random)
