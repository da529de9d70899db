"""TuRBO ask/tell: beats random search, resumes exactly, follows the trust-region rules."""

import logging

import numpy as np
import pytest
import torch

from trade_pipeline.optim import RandomSearch, Turbo, TurboConfig, create_optimizer
from trade_pipeline.optim.base import Dimension
from trade_pipeline.optim.mixed import MixedSpace, mixed_candidates
from trade_pipeline.optim.trust_region import (
    record_observations,
    start_trust_region,
    trust_region_bounds,
)


APP_C = TurboConfig(success_tolerance=2, failure_tolerance=2, length_min=0.05)
"""TRADE App. C's settings (conf/paper), which the trust-region rule tests spell out."""


@pytest.fixture(autouse=True)
def single_torch_thread():
    """Small GPs are slower, not faster, with several threads on a shared CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def ackley(unit_points: np.ndarray) -> np.ndarray:
    """Ackley on [-5, 10]^d (minimum 0 at the origin, off the cube's centre); ``n x d -> n``."""
    x = -5.0 + 15.0 * unit_points
    return (
        -20.0 * np.exp(-0.2 * np.sqrt((x**2).mean(-1)))
        - np.exp(np.cos(2.0 * np.pi * x).mean(-1))
        + 20.0
        + np.e
    )


def minimise(optimizer, objective, budget: int, batch_size: int) -> np.ndarray:
    while len(optimizer.values) < budget:
        points = optimizer.ask(min(batch_size, budget - len(optimizer.values)))
        optimizer.tell(points, objective(points))
    return optimizer.values


def test_turbo_beats_random_search_at_equal_budget_on_ackley_8d():
    budget, seeds = 60, range(4)
    turbo = [
        minimise(
            Turbo(8, seed, max_evaluations=budget, batch_size=6, n_candidates=500), ackley, budget, 6
        ).min()
        for seed in seeds
    ]
    random = [minimise(RandomSearch(8, seed), ackley, budget, 6).min() for seed in seeds]
    wins = sum(t < r for t, r in zip(turbo, random))
    assert wins >= 3, (turbo, random)
    assert np.median(turbo) < 0.7 * np.median(random), (turbo, random)


def test_two_successes_double_the_length_and_two_failures_halve_it():
    config = APP_C
    region = start_trust_region(0, np.empty((0, 2)), config)
    design_values = np.array([5.0, 4.0])
    region = record_observations(region, np.array([0, 1]), design_values, config, count=False)
    assert (region.best_value, region.length, region.success_counter) == (4.0, 0.8, 0)

    for index, value in [(2, 3.0), (3, 2.0)]:
        region = record_observations(
            region, np.array([index]), np.array([value]), config, count=True
        )
    assert region.length == 1.6 and region.success_counter == 0

    # 1.999 is within the 1e-3 * |best| margin, so it is no "new best point"
    for index, value in [(4, 1.999), (5, 7.0)]:
        region = record_observations(
            region, np.array([index]), np.array([value]), config, count=True
        )
    assert region.length == 0.8 and region.failure_counter == 0
    assert region.best_value == 1.999 and region.observations == (0, 1, 2, 3, 4, 5)


def test_length_never_exceeds_length_max():
    config = APP_C
    region = start_trust_region(0, np.empty((0, 2)), config)
    for index in range(8):
        region = record_observations(
            region, np.array([index]), np.array([-float(index)]), config, count=True
        )
    assert region.length == config.length_max


def test_region_restarts_below_min_length_with_a_fresh_design(caplog):
    optimizer = Turbo(2, seed=0, n_init=3, n_candidates=64, config=APP_C)
    design = optimizer.ask(3)
    optimizer.tell(design, np.array([1.0, 2.0, 3.0]))
    lengths = []
    with caplog.at_level(logging.INFO, logger="trade_pipeline.optim"):
        for _ in range(10):  # 0.8 -> 0.025 takes five halvings of two failures each
            point = optimizer.ask(1)
            assert optimizer.last_region_ids == [0]
            optimizer.tell(point, np.array([10.0]))
            lengths.append(optimizer.describe()[0]["length"])
    assert lengths[:9] == [0.8, 0.4, 0.4, 0.2, 0.2, 0.1, 0.1, 0.05, 0.05]
    assert "restarts from a new design" in caplog.text

    region = optimizer.describe()[0]
    assert region["restarts"] == 1 and region["length"] == 0.8
    assert region["n_observations"] == 0 and region["best_value"] is None
    assert len(optimizer.values) == 13  # old data stays in the history
    new_design = optimizer.ask(3)
    assert optimizer.last_region_ids == [0, 0, 0]
    assert not np.isin(new_design, design).all(axis=1).any()


def test_nan_values_count_as_failures_and_keep_the_gp_working():
    optimizer = Turbo(3, seed=1, n_init=4, n_candidates=100)
    design = optimizer.ask(4)
    optimizer.tell(design, np.array([np.nan, 2.0, np.nan, 1.0]))
    assert optimizer.describe()[0]["best_value"] == 1.0

    points = optimizer.ask(2)
    assert points.shape == (2, 3) and np.isfinite(points).all()
    assert ((points >= 0) & (points <= 1)).all()
    optimizer.tell(points, np.array([np.nan, np.nan]))
    assert optimizer.describe()[0]["failure_counter"] == 1
    assert np.isnan(optimizer.values).sum() == 4


def test_all_failed_design_still_proposes_points():
    optimizer = Turbo(3, seed=2, n_init=3, n_candidates=100)
    design = optimizer.ask(3)
    optimizer.tell(design, np.full(3, np.nan))
    assert optimizer.ask(2).shape == (2, 3)


def test_canonicalize_never_reproposes_a_told_or_pending_point(caplog):
    def grid_cell(point):  # a 4 x 4 grid: only 16 distinct "architectures"
        return tuple(np.minimum(np.floor(point * 4), 3).astype(int).tolist())

    optimizer = Turbo(2, seed=0, n_init=4, n_candidates=64, canonicalize=grid_cell, dedup_tries=20)
    keys = []
    with caplog.at_level(logging.WARNING, logger="trade_pipeline.optim"):
        for _ in range(8):
            points = optimizer.ask(3)
            keys += [grid_cell(point) for point in points]
            optimizer.tell(points, ackley(points))
    assert len(keys) == len(set(keys))
    assert len(keys) >= 14  # replacements were drawn rather than returning short batches
    assert optimizer.ask(3).shape == (0, 2)
    assert "search space looks exhausted" in caplog.text


def test_n_init_is_capped_by_the_budget_with_a_log_note(caplog):
    with caplog.at_level(logging.INFO, logger="trade_pipeline.optim"):
        optimizer = Turbo(24, seed=0, max_evaluations=8, n_init=48, n_candidates=100)
    assert optimizer.n_init == 4
    assert "n_init capped from 48 to 4" in caplog.text
    values = minimise(optimizer, ackley, budget=8, batch_size=4)
    assert len(values) == 8 and optimizer.ask(4).shape == (0, 24)


def test_turbo_m_gives_batch_slots_to_the_region_whose_samples_are_lowest():
    optimizer = Turbo(3, seed=0, n_trust_regions=2, n_init=4, n_candidates=100)
    design = optimizer.ask(8)
    regions = np.array(optimizer.last_region_ids)
    assert regions.tolist() == [0] * 4 + [1] * 4
    optimizer.tell(design, np.where(regions == 1, 0.0, 100.0) + design.sum(axis=1))
    optimizer.ask(4)
    assert optimizer.last_region_ids == [1, 1, 1, 1]


def test_trust_region_is_stretched_along_long_lengthscales_at_constant_volume():
    center = torch.full((3,), 0.5, dtype=torch.float64)
    lengthscales = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64)
    bounds = trust_region_bounds(center, lengthscales, length=0.4)
    sides = bounds[1] - bounds[0]
    assert torch.allclose(sides, torch.tensor([0.2, 0.4, 0.8], dtype=torch.float64))
    assert torch.isclose(sides.prod(), torch.tensor(0.4**3, dtype=torch.float64))
    clipped = trust_region_bounds(torch.zeros(3, dtype=torch.float64), lengthscales, length=0.4)
    assert (clipped[0] == 0).all()


def test_candidates_move_at_least_one_coordinate_and_stay_in_the_box():
    center = torch.full((30,), 0.5, dtype=torch.float64)
    bounds = torch.stack([center - 0.1, center + 0.1])
    cube = MixedSpace.from_dimensions([Dimension()] * 30)
    ones = torch.ones(30, dtype=torch.float64)
    generator = torch.Generator().manual_seed(0)
    candidates = mixed_candidates(center, ones, 0.2, 30, cube, 500, probability=0.1, generator=generator)
    moved = candidates != center
    assert moved.any(dim=1).all()
    assert 0.05 < moved.double().mean() < 0.2
    assert ((candidates >= bounds[0]) & (candidates <= bounds[1])).all()


def test_create_optimizer_rejects_unknown_strategy_naming_allowed_values():
    with pytest.raises(ValueError, match=r"search\.strategy='bayes'.*'random'.*'turbo'"):
        create_optimizer("bayes", 3, seed=0)


def test_unknown_turbo_option_is_rejected_naming_allowed_options():
    with pytest.raises(ValueError, match=r"n_trust_region\n.*Extra inputs are not permitted"):
        create_optimizer("turbo", 3, seed=0, n_trust_region=2)
    with pytest.raises(ValueError, match="length_min"):
        Turbo(3, length_min=2.0)
