"""Multi-fidelity search: the ladder's settings, the rung map, promotion, and a search that climbs it."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trade_pipeline.config import ConfigError
from trade_pipeline.optim import CompositeTurbo
from trade_pipeline.search import objective
from trade_pipeline.search.config import SearchParams
from trade_pipeline.optim.logit import to_logit
from trade_pipeline.search.fidelity import FidelityParams, RungMap, promotions, rung_map
from trade_pipeline.search.runner import run_search
from trade_pipeline.search.score import KDGuidedScore
from trade_pipeline.search.trials import ok_trials

from .conftest import tiny_search_params

LADDER = {"rungs": [0.5, 1.0], "eta": 2}


@pytest.mark.parametrize("rungs, problem", [([0.3, 0.6], "ending at 1.0"), ([0.5, 0.3, 1.0], "rise strictly"),
                                            ([0.0, 1.0], r"in \(0, 1\]")])
def test_a_ladder_that_does_not_rise_to_the_full_task_is_refused_by_name(rungs, problem):
    with pytest.raises(ConfigError, match=rf"search\.fidelity\.rungs.*{problem}"):
        SearchParams.model_validate(tiny_search_params(fidelity={"rungs": rungs}))


def test_the_ladder_is_off_by_default_and_on_when_enabled_or_given_rungs():
    assert FidelityParams().ladder == [1.0] and FidelityParams(enabled=True).ladder == [0.33, 1.0]
    assert FidelityParams.model_validate({"rungs": [0.2, 1.0]}).ladder == [0.2, 1.0]
    assert FidelityParams.model_validate({"rungs": [0.2, 1.0], "enabled": False}).ladder == [1.0]
    params = SearchParams.model_validate(tiny_search_params(fidelity={"enabled": True, "eta": 4}))
    assert params.fidelity.ladder == [0.33, 1.0] and params.fidelity.top == 1


def test_a_rung_keeps_one_in_eta_at_least_one():
    ladder = FidelityParams(rungs=[0.1, 0.3, 1.0], eta=3)
    assert ladder.top == 2 and [ladder.survivors(n) for n in (0, 1, 2, 3, 8, 9)] == [0, 1, 1, 1, 2, 3]


def test_the_rung_map_is_the_identity_an_offset_or_a_line_on_the_logit_scale():
    assert rung_map([]) == RungMap(0.0, 1.0, 1.0)
    two = rung_map([(50.0, 75.0), (75.0, 90.0)])  # two pairs: the mean logit gap only
    gaps = np.array([math.log(3), math.log(9) - math.log(3)])
    assert two.slope == 1.0 and two.offset == pytest.approx(gaps.mean())
    assert two.sigma == pytest.approx(math.sqrt((np.sum((gaps - gaps.mean()) ** 2) + 2) / 4))
    low = np.array([20.0, 40.0, 60.0, 80.0])
    top = 100 / (1 + np.exp(-(0.5 + 1.5 * to_logit(low))))  # an exact line: found again, no residual
    line = rung_map(list(zip(low, top)))
    assert (line.offset, line.slope, line.sigma) == (pytest.approx(0.5), pytest.approx(1.5), pytest.approx(math.sqrt(2 / 6)))
    assert line.median(40.0) == pytest.approx(top[1])
    assert rung_map([(30.0, 50.0), (40.0, 45.0), (50.0, 40.0)]).slope == 1.0  # a falling fit keeps the ranking


def test_the_expected_score_is_eq_2_averaged_over_the_maps_spread():
    certain = RungMap(0.0, 1.0, 1e-9)
    assert certain.expected_log_score(60.0, 0.5, KDGuidedScore(50.0, 0.01)) == pytest.approx(
        math.log(KDGuidedScore(50.0, 0.01).value(60.0, 0.5)))
    # below the target, a chance of reaching it beats a lower cost with none
    spread = RungMap(0.0, 1.0, 1.0)
    score = KDGuidedScore(50.0, 0.01)
    likely_short, may_reach = spread.expected_log_score(12.0, 0.1, score), spread.expected_log_score(40.0, 0.5, score)
    assert may_reach < likely_short
    assert score.value(40.0, 0.5) > score.value(12.0, 0.1)  # the plug-in's order


def test_promotion_takes_the_lowest_estimated_scores_and_never_an_unscored_one():
    rows = [{"trial_id": i, "spec_hash": h} for i, h in enumerate("abcd")]
    values = {"a": 1.0, "b": math.nan, "c": 0.5, "d": 1.0}
    assert [row["spec_hash"] for row in promotions(rows, 3, values)] == ["c", "a", "d"]
    assert [row["spec_hash"] for row in promotions(rows, 9, values)] == ["c", "a", "d"]


def test_a_search_on_a_ladder_retrains_the_best_of_each_bracket_on_the_full_task(tiny_search, monkeypatch):
    trained: list[tuple[int, int]] = []
    real = objective.proxy_train

    def counting(model, context, seed, device, rung=None, **options):
        trained.append((rung, len(context.training_indices(rung))))
        return real(model, context, seed, device, rung, **options)

    told: list[np.ndarray] = []  # the values the strategy is told, bracket by bracket
    tell = CompositeTurbo.tell
    monkeypatch.setattr(CompositeTurbo, "tell", lambda self, points, values, outcomes, outcome_sd=None: (
        told.append(np.asarray(values)), tell(self, points, values, outcomes, outcome_sd))[1])
    monkeypatch.setattr(objective, "proxy_train", counting)
    context, params, fingerprint = tiny_search(strategy="composite", batch_size=4, fidelity=LADDER)
    trials = run_search(context, params, fingerprint).trials

    first, top = trials[trials["rung"] == 0], trials[trials["rung"] == 1]
    assert len(first) == 8 and len(top) == 4  # two brackets of 4, 4 // eta = 2 promoted from each
    assert {size for rung, size in trained if rung == 0} == {75} and {size for rung, size in trained if rung == 1} == {150}
    assert (first["fidelity"] == 0.5).all() and (top["fidelity"] == 1.0).all()
    assert (first["image_epochs"] == 75).all() and (top["image_epochs"] == 150).all()  # 1 proxy epoch
    for iteration, bracket in trials.groupby("iteration"):
        promoted = set(bracket.loc[bracket["rung"] == 1, "spec_hash"])
        assert promoted <= set(bracket.loc[bracket["rung"] == 0, "spec_hash"])
        assert (bracket.loc[bracket["rung"] == 1, "trial_id"] > bracket.loc[bracket["rung"] == 0, "trial_id"].max()).all()
    assert set(ok_trials(trials)["trial_id"]) == set(top.loc[top["status"] == "ok", "trial_id"])

    def pairs(last: int) -> list[tuple[float, float]]:  # (rung 0, rung 1) accuracies of brackets <= last
        seen = trials[trials["iteration"] <= last].set_index(["iteration", "spec_hash"])
        low, top = (seen.loc[seen["rung"] == rung, "proxy_accuracy"] for rung in (0, 1))
        return list(pd.concat([low, top], axis=1, join="inner").dropna().itertuples(index=False, name=None))

    score = context.score
    for (iteration, bracket), values in zip(trials.groupby("iteration"), told):
        low = bracket[bracket["rung"] == 0].sort_values("trial_id")
        # promoted: the 2 lowest expected top-rung scores under the map of the earlier brackets
        at_promotion = rung_map(pairs(iteration - 1))
        expected = [at_promotion.expected_log_score(a, s, score) for a, s in zip(low["proxy_accuracy"], low["resource_ratio"])]
        assert set(bracket.loc[bracket["rung"] == 1, "spec_hash"]) == set(low["spec_hash"].iloc[np.argsort(expected)[:2]])
        # told: a promoted student's top-rung score, the others' rung-0 accuracy through the map of this bracket too
        after = rung_map(pairs(iteration))
        top_score = dict(zip(bracket.loc[bracket["rung"] == 1, "spec_hash"], bracket.loc[bracket["rung"] == 1, "log_score"]))
        hand = [top_score.get(h, score.log_value(after.median(a), s))
                for h, a, s in zip(low["spec_hash"], low["proxy_accuracy"], low["resource_ratio"])]
        np.testing.assert_allclose(values, hand, rtol=1e-12)


class Killed(BaseException):
    """Stands for SIGKILL: nothing in the search catches it."""


def test_a_search_killed_mid_bracket_resumes_without_training_anything_twice(tiny_search, monkeypatch):
    real = objective.proxy_train
    calls: list[int | None] = []
    dying = [True]

    def dies_at_the_first_promotion(model, context, seed, device, rung=None, **options):
        if rung == 1 and dying[0]:
            raise Killed
        calls.append(rung)
        return real(model, context, seed, device, rung, **options)

    monkeypatch.setattr(objective, "proxy_train", dies_at_the_first_promotion)
    context, params, fingerprint = tiny_search(strategy="composite", batch_size=4, fidelity=LADDER)
    with pytest.raises(Killed):
        run_search(context, params, fingerprint)
    before = (Path(params.state_dir) / "trials.jsonl").read_text().splitlines()
    assert len(before) == 4 and calls == [0, 0, 0, 0]  # the first bracket's first rung, nothing promoted yet

    dying[0] = False
    calls.clear()
    trials = run_search(*tiny_search(strategy="composite", batch_size=4, fidelity=LADDER)).trials
    assert len(trials) == 12 and trials["trial_id"].is_unique
    assert calls == [1, 1, 0, 0, 0, 0, 1, 1]  # the promotions, then the second bracket: nothing twice
    assert (Path(params.state_dir) / "trials.jsonl").read_text().splitlines()[:4] == before
    assert not trials.duplicated(["iteration", "spec_hash", "rung"]).any()


def test_a_finished_ladder_search_resumes_to_more_candidates(tiny_search):
    run_search(*tiny_search(strategy="composite", batch_size=4, fidelity=LADDER))
    trials = run_search(*tiny_search(strategy="composite", batch_size=4, fidelity=LADDER, n_trials=12)).trials
    assert (trials["rung"] == 0).sum() == 12 and (trials["rung"] == 1).sum() == 6
