"""Pruning in the regime suite: learning curves kept beside the proxy cache, the pruned search's
brackets, and the comparison of the two arms by compute."""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from trade_pipeline.search.pruning import PruningParams, pruning_rule
from trade_pipeline.search.score import Budget, KDGuidedScore

from .test_proxy_regimes import benchmarks, objective  # noqa: F401  (fixtures)


def test_a_learning_curve_is_trained_once_and_ends_where_the_cached_run_ended(
        objective, monkeypatch) -> None:  # noqa: F811
    from proxy_objective import CachedObjective

    rng = np.random.default_rng(3)
    cached, fresh = rng.random((2, len(objective.dimensions)))
    row = objective.row(cached)
    at = (1, 2)
    curve = objective.curve(cached, at)
    assert [updates for updates, _ in curve] == [1, 2] and all(0.0 <= top1 <= 100.0 for _, top1 in curve)
    assert objective.evaluated == 1  # the probed run only checked the cached accuracy, it added no row
    reloaded = CachedObjective(objective.context, objective.cache_path)  # a new process: read from disk
    assert reloaded.curve(cached, at) == curve and reloaded.evaluated == 0
    # a student the cache lacks joins it from its probed run, without a second training
    assert reloaded.curve(fresh, at) is not None and reloaded.evaluated == 1
    assert CachedObjective(objective.context, objective.cache_path).rows.keys() == {row["spec_hash"], reloaded.key(fresh)}
    # a new student over a view's budget is profiled once, not trained, and kept out of the file
    import proxy_objective

    evaluations = []
    real = proxy_objective.evaluate_candidate
    monkeypatch.setattr(proxy_objective, "evaluate_candidate", lambda *a, **k: evaluations.append(1) or real(*a, **k))
    tight = reloaded.at(budget=Budget(max_macs_ratio=1e-9))
    over = rng.random(len(objective.dimensions))
    assert tight.curve(over, at) is None and tight.row(over)["status"] == "over_budget" and len(evaluations) == 1
    assert tight.evaluated == 1 and tight.key(over) not in CachedObjective(objective.context, objective.cache_path).rows
    # a cache whose accuracy the probed run does not reproduce is refused
    reloaded.rows[row["spec_hash"]] = {**row, "proxy_accuracy": row["proxy_accuracy"] + 1.0}
    with pytest.raises(RuntimeError, match="a probe changed training, or the cache is stale"):
        reloaded.curve(cached, (1,))


class FakeView:
    """Student ``k`` is the 1-d point ``[k]``: its final accuracy, ``s`` and curve are given."""

    def __init__(self, finals: list[float], s: list[float], early: list[float]) -> None:
        self.finals, self.s, self.early = finals, s, early
        self.context = SimpleNamespace(proxy_updates=100)
        self.score = KDGuidedScore(50.0, 0.01)

    def key(self, point: np.ndarray) -> str:
        return str(int(point[0]))

    def row(self, point: np.ndarray) -> dict:
        k = int(point[0])
        return {"spec_hash": str(k), "status": "ok", "proxy_accuracy": self.finals[k], "resource_ratio": self.s[k]}

    def curve(self, point: np.ndarray, at: tuple[int, ...]) -> list[list[float]]:
        k = int(point[0])  # the early accuracy at the first probe, halfway to the final at the second
        return [[at[0], self.early[k]], [at[1], (self.early[k] + self.finals[k]) / 2]]

    def image_epochs(self, points: np.ndarray) -> np.ndarray:
        return np.full(len(np.atleast_2d(points)), 1000.0)


def test_a_pruned_search_stops_hopeless_students_and_tells_their_likely_final_score(benchmarks) -> None:  # noqa: F811
    from pruning_regimes import PrunedSearch

    # 8 finished students (the rule's data), then a hopeless cheap one and a promising one
    finals = [20.0, 30.0, 40.0, 45.0, 55.0, 60.0, 70.0, 80.0, 60.0, 75.0]
    s = [0.5] * 8 + [0.1, 0.4]
    early = [f - 15.0 for f in finals[:8]] + [5.0, 60.0]
    view = FakeView(finals, s, early)
    search = PrunedSearch(view, PruningParams())  # off in the params: the benchmark turns it on
    first = search(np.arange(8.0)[:, None])
    np.testing.assert_allclose(first, [view.score.log_value(f, 0.5) for f in finals[:8]])
    assert all(row["status"] == "ok" for row in search.rows)  # too few finished students to stop any
    rule = pruning_rule(search.rows, PruningParams(enabled=True), 100, view.score)
    second = search(np.array([[8.0], [9.0]]))
    hopeless, promising = search.rows[8:]
    assert hopeless["status"] == "pruned" and hopeless["pruned_at"] == 25 and hopeless["image_epochs"] == 250
    assert hopeless["curve"] == [[25, 5.0]] and hopeless["final"] == view.score.log_value(60.0, 0.1)
    assert rule.p_improve(25, 5.0, 0.1) < 0.05
    assert second[0] == pytest.approx(view.score.log_value(rule.estimate(25, 5.0), 0.1))
    assert promising["status"] == "ok" and second[1] == view.score.log_value(75.0, 0.4)
    assert promising["image_epochs"] == 1000
    # the best counts students trained to the end only: the pruned one's true score (better) is unseen
    points = np.arange(10.0)[:, None]
    best = search.best(points)
    assert best[-1] == view.score.log_value(75.0, 0.4) and best[-2] == best[-3] == view.score.log_value(80.0, 0.5)
    np.testing.assert_allclose(search.field("outcome", points)[8:], [rule.estimate(25, 5.0), 75.0])


def run(compute: list[float], best: list[float], **columns) -> pd.DataFrame:
    return pd.DataFrame({"image_epochs": compute, "best": best, "phase": ["design"] + ["search"] * (len(best) - 1),
                         "pruned_at": [math.nan] * len(best),
                         "final": [math.nan] * len(best), "best_before": [math.inf] * len(best), **columns})


def test_the_arms_are_compared_at_equal_compute(benchmarks) -> None:  # noqa: F811
    from pruning_regimes import compare

    unpruned = {0: run([10] * 4, [3, 2, 1, 1]), 1: run([10] * 4, [4, 3, 2, 0])}  # final median 0.5 at 40
    pruned = {0: run([10, 2.5, 2.5, 10], [3, 3, 0.5, 0.2],
                     pruned_at=[math.nan, 25, 25, math.nan], final=[math.nan, 5.0, -1.0, math.nan],
                     best_before=[math.inf, 3, 3, math.inf]),
              1: run([10, 2.5, 10, 2.5], [4, 4, 0, 0], pruned_at=[math.nan, 25, math.nan, 25])}
    result = compare(unpruned, pruned, first_probe=0.25)
    # seed 1 reaches 0 after 22.5: the median (0.5, 0) first drops to 0.25 <= 0.5 there
    assert result["compute_share_to_match"] == pytest.approx(22.5 / 40, abs=0.003)
    assert result["unpruned_final_median"] == 0.5 and result["pruned_final_median"] == 0.1
    assert result["pruned_compute_share"] == pytest.approx(25 / 40)
    assert result["pruned_students"] == 4 and result["pruned_at_updates"] == {"25": 4}
    assert result["wrong_prunes"] == 1  # seed 0's third student would have scored -1.0 < 3
    # the oracle stops seed 0's last student (no improvement) at a quarter: 32.5 and 40 spent; seed 1
    # improves with every student, so the median first reaches 0.5 at 40
    assert result["oracle_compute_share"] == pytest.approx(36.25 / 40)
    assert result["oracle_compute_share_to_match"] == pytest.approx(1.0)
    half, whole = result["paired"]["0.5"], result["paired"]["1"]
    assert (half["pruned_median"], half["unpruned_median"]) == (2.25, 2.5)  # (0.5, 4) against (2, 3)
    assert (half["wins"], half["losses"]) == (1, 1)
    assert (whole["wins"], whole["ties"], whole["losses"]) == (1, 1, 0)  # (0.2, 0) against (1, 0)
