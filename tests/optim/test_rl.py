"""REINFORCE controller: samples choices, learns the rewarded ones, dedups, resumes, beats random."""

import logging

import numpy as np
import pytest

from trade_pipeline.optim import RandomSearch
from trade_pipeline.optim.base import Dimension
from trade_pipeline.optim.rl import Reinforce, ReinforceConfig, softmax

MIXED = (Dimension("ordinal", 4), Dimension("categorical", 3), Dimension())
TOY = (Dimension("ordinal", 6),) * 6 + (Dimension("categorical", 4),) * 2
TOY_TARGET = np.array([3, 0, 5, 2, 4, 1])
TOY_CATEGORY_COST = np.array([[1.0, 0.0, 2.0, 3.0], [2.0, 2.5, 1.0, 0.0]])


def toy_levels(points: np.ndarray) -> np.ndarray:
    return np.column_stack([dimension.level(points[:, j]) for j, dimension in enumerate(TOY)])


def toy(points: np.ndarray) -> np.ndarray:
    """log(1 + cost) of 6 ordinal and 2 categorical choices (minimum 0), like log(Score)."""
    chosen = toy_levels(points)
    cost = ((chosen[:, :6] - TOY_TARGET) ** 2).sum(axis=1)
    return np.log1p(cost + TOY_CATEGORY_COST[0, chosen[:, 6]] + TOY_CATEGORY_COST[1, chosen[:, 7]])


def toy_key(point: np.ndarray) -> tuple:
    return tuple(toy_levels(point[None])[0].tolist())


def minimise(optimizer, objective, budget: int, batch_size: int) -> np.ndarray:
    while len(optimizer.values) < budget:
        points = optimizer.ask(min(batch_size, budget - len(optimizer.values)))
        optimizer.tell(points, objective(points))
    return optimizer.values


def test_samples_are_bin_centres_of_the_levels_and_of_the_continuous_bins():
    optimizer = Reinforce(3, seed=0, dimensions=MIXED, continuous_bins=5)
    points = optimizer.ask(50)
    assert points.shape == (50, 3) and ((points > 0) & (points < 1)).all()
    for j, levels in enumerate([4, 3, 5]):
        centres = (np.arange(levels) + 0.5) / levels
        assert np.isin(np.round(points[:, j], 12), np.round(centres, 12)).all()
    assert [len(p) for p in optimizer.probabilities] == [4, 3, 5]
    assert optimizer.last_region_ids == [0] * 50


def test_never_reproposes_a_key_and_stops_short_when_the_space_is_exhausted(caplog):
    small = (Dimension("ordinal", 3), Dimension("categorical", 3))  # 9 distinct keys
    def key(point):
        return tuple(dimension.level(point[j : j + 1])[0] for j, dimension in enumerate(small))

    optimizer = Reinforce(2, seed=0, dimensions=small, canonicalize=key)
    first = optimizer.ask(4)
    optimizer.tell(first, first.sum(axis=1))
    with caplog.at_level(logging.WARNING, logger="trade_pipeline.optim"):
        rest = optimizer.ask(8)
    keys = [key(point) for point in np.vstack([first, rest])]
    assert len(rest) == 5 and len(set(keys)) == len(keys) == 9
    assert "search space looks exhausted" in caplog.text


def test_probability_of_an_always_rewarded_level_rises_within_a_few_dozen_evaluations():
    optimizer = Reinforce(3, seed=0, dimensions=MIXED)  # 4 x 3 x 10 = 120 distinct points
    start = optimizer.probabilities[0][2]

    def rewarded(points):  # level 2 of the first dimension is worth one unit of -log(Score)
        return np.where(MIXED[0].level(points[:, 0]) == 2, -1.0, 0.0)

    for _ in range(8):
        points = optimizer.ask(4)
        optimizer.tell(points, rewarded(points))
    probabilities = optimizer.probabilities
    assert len(optimizer.values) == 32 and start == pytest.approx(0.25)
    assert probabilities[0][2] > 0.5 and probabilities[0].argmax() == 2


def test_baseline_starts_at_the_first_reward_and_moves_towards_the_rewards():
    optimizer = Reinforce(1, seed=0, baseline_decay=0.9)
    assert optimizer.baseline is None
    optimizer.tell(np.array([[0.1]]), np.array([2.0]))
    assert optimizer.baseline == pytest.approx(-2.0)
    optimizer.tell(np.array([[0.2], [0.3]]), np.array([0.0, 0.0]))  # reward 0 twice
    assert optimizer.baseline == pytest.approx(-2.0 * 0.9 * 0.9)


def test_failed_evaluations_get_the_worst_reward_seen_so_far():
    failed, worst = Reinforce(2, seed=0), Reinforce(2, seed=0)
    history = np.array([[0.1, 0.2], [0.6, 0.7], [0.9, 0.4]])
    failed.tell(history, np.array([1.0, 3.0, np.nan]))
    worst.tell(history, np.array([1.0, 3.0, 3.0]))
    for a, b in zip(failed.probabilities, worst.probabilities):
        np.testing.assert_allclose(a, b)
    assert failed.probabilities[0].max() > 0.1 + 1e-3  # the policy did move


def test_entropy_bonus_flattens_a_peaked_policy():
    optimizer = Reinforce(1, seed=0, dimensions=(Dimension("categorical", 3),), entropy_weight=1.0)
    optimizer.load_state_dict({**optimizer.state_dict(), "logits": [[2.0, 0.0, 0.0]], "baseline": 0.0})
    optimizer.tell(np.array([[0.5]]), np.array([0.0]))  # zero advantage: only the entropy term acts
    assert optimizer.probabilities[0][0] < softmax(np.array([2.0, 0.0, 0.0]))[0]


def test_told_points_that_were_never_asked_train_the_policy():
    optimizer = Reinforce(1, seed=0, dimensions=(Dimension("ordinal", 2),))
    shared_design = np.array([[0.1], [0.9], [0.2], [0.8]])  # level 1 is the better one
    optimizer.tell(shared_design, np.array([1.0, 0.0, 1.0, 0.0]))
    assert optimizer.probabilities[0][1] > 0.5


def test_unknown_or_out_of_range_settings_are_rejected():
    with pytest.raises(ValueError, match="baseline_decay"):
        Reinforce(2, baseline_decay=1.0)
    with pytest.raises(ValueError, match="learning_rat\n"):
        Reinforce(2, learning_rat=0.1)
    assert ReinforceConfig().continuous_bins == 10


def test_rl_beats_random_search_on_a_discrete_toy_at_equal_budget():
    budget, seeds = 100, range(5)
    rl = [
        minimise(Reinforce(8, seed, dimensions=TOY, canonicalize=toy_key), toy, budget, 10).min()
        for seed in seeds
    ]
    random = [minimise(RandomSearch(8, seed, canonicalize=toy_key), toy, budget, 10).min() for seed in seeds]
    assert sum(r < b for r, b in zip(rl, random)) >= 4, (rl, random)
    assert np.mean(rl) < np.mean(random), (rl, random)
