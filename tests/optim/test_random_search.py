"""Random search: uniform, de-duplicated, budgeted and resumable."""

import logging

import numpy as np

from trade_pipeline.optim import RandomSearch, create_optimizer


def test_points_are_uniform_on_the_unit_cube_and_tagged_random():
    optimizer = create_optimizer("random", 5, seed=0)
    points = optimizer.ask(400)
    assert points.shape == (400, 5) and points.dtype == np.float64
    assert ((points >= 0) & (points < 1)).all()
    assert abs(points.mean() - 0.5) < 0.03
    assert optimizer.last_region_ids == [-1] * 400
    assert optimizer.describe() == []


def test_same_seed_same_points_and_different_seed_different_points():
    first, again, other = (RandomSearch(3, seed).ask(4) for seed in (7, 7, 8))
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)


def test_canonicalize_dedups_and_stops_gracefully_when_exhausted(caplog):
    def grid_cell(point):  # a 3 x 3 grid: 9 distinct keys
        return tuple(np.minimum(np.floor(point * 3), 2).astype(int).tolist())

    optimizer = RandomSearch(2, seed=0, canonicalize=grid_cell)
    first = optimizer.ask(5)
    optimizer.tell(first, first.sum(axis=1))
    with caplog.at_level(logging.WARNING, logger="trade_pipeline.optim"):
        second = optimizer.ask(5)  # only 4 cells remain; the pending ones count too
    keys = [grid_cell(point) for point in np.vstack([first, second])]
    assert len(second) == 4 and len(set(keys)) == 9
    assert "search space looks exhausted" in caplog.text


def test_never_proposes_beyond_the_budget():
    optimizer = RandomSearch(2, seed=0, max_evaluations=5)
    points = optimizer.ask(3)
    optimizer.tell(points, np.zeros(3))
    assert len(optimizer.ask(3)) == 2
    assert len(optimizer.ask(3)) == 0
