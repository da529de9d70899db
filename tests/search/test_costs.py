"""Costs known before training: exact params/MACs, a latency model, the budget check, resume."""
from __future__ import annotations

import math

import numpy as np
import pytest

from trade_pipeline.search.costs import MIN_LATENCY_FIT, CandidateCosts, LatencyModel, latency_features
from trade_pipeline.search.score import Budget
from trade_pipeline.students.space import SearchSpace

TEACHER = {"params": 1e6, "macs": 1e8, "latency_ms": 5.0}


def _costs(space_config, budget: Budget | None = None) -> CandidateCosts:
    space = SearchSpace.from_config(space_config).at_resolution(28)
    return CandidateCosts(space, 1, 10, TEACHER, budget or Budget())


def _rows(costs: CandidateCosts, points: np.ndarray, latency) -> list[dict]:
    specs = [costs.space.decode(point) for point in points]
    return [{"spec_json": spec.to_json(), "latency_ms": latency(spec)} for spec in specs]


def test_the_latency_model_recovers_a_latency_that_is_a_sum_of_its_features() -> None:
    weights = np.array([0.3, 0.05, 0.08, 0.02, 0.2, 0.01])
    rng = np.random.default_rng(0)
    model = LatencyModel()
    features = np.column_stack([np.ones(20), rng.integers(0, 6, (20, 4)), rng.uniform(0, 5, 20)])
    assert math.isnan(model.predict(features[0])[0])
    for row in features:
        model.observe(row, float(row @ weights))
    np.testing.assert_allclose(model.predict(features), features @ weights, rtol=1e-8)
    assert len(model.errors) == 20 - MIN_LATENCY_FIT and model.errors[-1] < 1e-8


def test_ratios_are_costs_over_the_teachers_and_latency_is_unknown_until_measured(tiny_space) -> None:
    costs = _costs(tiny_space)
    points = np.random.default_rng(0).random((5, costs.space.dimension))
    before = costs.ratios(points)
    assert np.isnan(before[:, 2]).all()
    np.testing.assert_allclose(before[:, :2], costs.costs(points)[:, :2] / [1e6, 1e8])
    costs.observe(_rows(costs, points, lambda spec: 1.0 + len(spec.present_blocks)))
    assert np.isfinite(costs.ratios(points)[:, 2]).all() and costs.latency_error is not None


def test_the_budget_judges_params_at_once_and_latency_only_once_it_is_predicted(tiny_space) -> None:
    costs = _costs(tiny_space, Budget(max_params_ratio=0.002, max_latency_ratio=0.3))
    points = np.random.default_rng(1).random((40, costs.space.dimension))
    params = costs.costs(points)[:, 0]
    assert [costs.within_budget(p) for p in points] == list(params <= 2000)
    costs.observe(_rows(costs, points[:6], lambda spec: 1.0 + 0.5 * len(spec.present_blocks)))  # 1.0-2.0 ms
    predicted = costs.costs(points)[:, 2]
    assert [costs.within_budget(p) for p in points] == list((params <= 2000) & (predicted <= 1.5))


def test_a_cost_model_fed_the_same_log_predicts_bit_identically(tiny_space) -> None:
    points = np.random.default_rng(2).random((12, SearchSpace.from_config(tiny_space).dimension))
    first, resumed = _costs(tiny_space), _costs(tiny_space)
    rows = _rows(first, points[:8], lambda spec: 0.7 + 0.1 * spec.stem_width)
    first.observe(rows[:4])
    first.observe(rows[4:])  # batch by batch, as the search tells it
    resumed.observe(rows)  # all at once, as a resumed search reads the log
    np.testing.assert_array_equal(first.ratios(points), resumed.ratios(points))


def test_latency_features_count_what_a_forward_pays_for(tiny_space) -> None:
    space = SearchSpace.from_config(tiny_space).at_resolution(28)
    spec = space.decode(np.full(space.dimension, 0.99))
    features = latency_features(spec, macs=2e6)
    assert features[0] == 1.0 and features[-1] == pytest.approx(2.0)
    assert features[1] + features[2] == sum(block.layers for block in spec.present_blocks)
