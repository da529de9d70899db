"""search.pruning: the rule against hand-computed cases, and a search that stops students early."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from trade_pipeline.config import ConfigError
from trade_pipeline.optim.base import AskTellOptimizer
from trade_pipeline.search import objective
from trade_pipeline.search.config import SearchParams
from trade_pipeline.search.fidelity import RungMap, rung_map
from trade_pipeline.search.pruning import PruneRule, PruningParams, probe_updates, pruning_rule
from trade_pipeline.search.runner import run_search
from trade_pipeline.search.score import KDGuidedScore

from .conftest import tiny_search_params

SCORE = KDGuidedScore(50.0, 0.01)


def test_probes_fall_inside_the_run_at_the_given_shares():
    assert probe_updates([0.25, 0.5], 24) == (6, 12)
    assert probe_updates([0.01, 0.99], 3) == (1, 2)  # never the first update's start nor the last update
    with pytest.raises(ValueError, match=r"in \(0, 1\)"):
        PruningParams(at=[0.5, 1.0])


def test_a_student_stops_when_its_chance_of_beating_the_best_is_small():
    best = SCORE.log_value(60.0, 0.5)  # as cheap as the candidate: it improves only above 60 %
    rule = PruneRule(at=(6, 12), total_updates=24, score=SCORE, maps=(RungMap(0.0, 1.0, 1.0),) * 2,
                     best_log_score=best, min_p_improve=0.05)
    # final logit ~ N(logit(early), 1): P(final > 60 %) = P(Z > logit(0.6) - logit(early))
    for early in (60.0, 50.0, 20.0):
        edge = math.log(0.6 / 0.4) - math.log(early / (100 - early))
        assert rule.p_improve(6, early, 0.5) == pytest.approx(norm.sf(edge), abs=1 / 200)
    assert not rule.stop(12, 50.0, 0.5) and rule.stop(12, 20.0, 0.5)  # P 0.34 and 0.037
    assert rule.estimate(6, 30.0) == pytest.approx(30.0)  # the identity map's median
    # its deviation, to first order: sigma x d accuracy / d logit = 1.0 x 100 x 0.3 x 0.7
    assert rule.estimate_sd(6, 30.0) == pytest.approx(21.0)
    assert not PruneRule(at=(6,), total_updates=24, score=SCORE).stop(6, 1.0, 9.0)  # no map yet: never stops


def test_the_rule_is_fitted_on_the_students_that_finished_with_their_curves():
    rows = [{"status": "ok", "curve": [[6, early], [12, (early + final) / 2]], "proxy_accuracy": final,
             "log_score": SCORE.log_value(final, 1.0)} for early, final in ((20, 40), (30, 55), (40, 70), (25, 50))]
    rows.append({"status": "pruned", "curve": [[6, 5.0]], "proxy_accuracy": None, "log_score": None})
    params = PruningParams(enabled=True, min_completed=4)
    assert pruning_rule(rows, PruningParams(), 24, SCORE) is None  # off
    assert pruning_rule(rows[:3], params, 24, SCORE).maps == ()  # too few finished: probe only
    rule = pruning_rule(rows, params, 24, SCORE)
    assert rule.at == (6, 12) and rule.best_log_score == SCORE.log_value(70, 1.0)
    assert rule.maps[0] == rung_map([(20, 40), (30, 55), (40, 70), (25, 50)])
    assert rule.maps[1] == rung_map([(30, 40), (42.5, 55), (55, 70), (37.5, 50)])


def test_pruning_and_the_ladder_are_not_both_on():
    with pytest.raises(ConfigError, match="enable one of them"):
        SearchParams.model_validate(tiny_search_params(pruning={"enabled": True}, fidelity={"enabled": True}))


def test_a_search_stops_hopeless_students_early_and_tells_their_likely_final_score(tiny_search, monkeypatch):
    real = objective.profile_model
    monkeypatch.setattr(objective, "profile_model", lambda *args: {  # latency without the machine's noise
        **(costs := real(*args)), "latency_ms": costs["macs"] * 1e-6})
    # the tiny proxy has 3 updates: probes after 1 and 2; after 2 students finished, most are stopped
    pruning = {"enabled": True, "at": [0.3, 0.6], "min_completed": 2, "min_p_improve": 0.9}
    context, params, fingerprint = tiny_search(strategy="random", pruning=pruning)
    told_sd, tell = [], AskTellOptimizer.tell
    monkeypatch.setattr(AskTellOptimizer, "tell", lambda self, *args, **kwargs: (
        told_sd.extend(kwargs["outcome_sd"]), tell(self, *args, **kwargs)))
    trials = run_search(context, params, fingerprint).trials
    # an estimate is told as one, with its deviation (> 0); a measured accuracy with none (NaN)
    assert (np.isfinite(told_sd) == (trials["status"] == "pruned").to_numpy()).all()
    assert all(sd > 0 for sd in told_sd if np.isfinite(sd))
    first, later = trials[trials["iteration"] == 0], trials[trials["iteration"] > 0]
    assert (first["status"] == "ok").all()  # no student had finished when the first bracket was asked
    assert all(len(curve) == 2 for curve in trials.loc[trials["status"] == "ok", "curve"])
    pruned = later[later["status"] == "pruned"]
    assert len(pruned) >= 2
    for row in pruned.itertuples():
        updates = row.curve[-1][0]
        assert updates in (1, 2) and row.epochs_trained == pytest.approx(updates / 3)
        assert row.image_epochs == round(150 * updates / 3) and pd.isna(row.proxy_accuracy)
        assert row.estimated_accuracy is not None and "P(better than the best)" in row.reason
    images = trials.loc[trials["status"] == "pruned", "image_epochs"]
    assert images.sum() < 150 * len(images)  # each trained a share of its 150 images x 1 epoch
    again = run_search(*tiny_search(strategy="random", pruning=pruning, state_dir=params.state_dir + "_again")).trials
    assert again["status"].tolist() == trials["status"].tolist()  # the same seed prunes the same students
