"""The search loop: one durable row per trial, resume after SIGKILL, budgets, failures, executors."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from trade_pipeline.search import objective
from trade_pipeline.search.checkpoint import ResumeError
from trade_pipeline.search.plots import plot_trust_region_trace
from trade_pipeline.search.runner import CandidatesFailedError, InfeasibleBudgetError, run_search
from trade_pipeline.training.engine import TrainResult

def _rows(state_dir: Path) -> list[dict]:
    path = state_dir / "trials.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _count_training(monkeypatch) -> list[int]:
    calls: list[int] = []
    real = objective.proxy_train

    def counting(model, context, seed, device, rung=None, **options):
        calls.append(seed)
        return real(model, context, seed, device, rung, **options)

    monkeypatch.setattr(objective, "proxy_train", counting)
    return calls


def test_a_search_logs_every_trial_once_with_the_documented_columns(tiny_search, tmp_path, monkeypatch):
    calls = _count_training(monkeypatch)
    result = run_search(*tiny_search())
    trials = result.trials
    assert len(trials) == 8 and trials["trial_id"].tolist() == list(range(8))
    assert trials["spec_hash"].is_unique
    assert {"status", "score", "proxy_accuracy", "params", "macs", "latency_ms", "block_sequence",
            "strategy"} <= set(trials.columns)
    assert set(trials["status"]) == {"ok"} and len(calls) == 8
    assert not list((tmp_path / "state" / "students").glob("*"))  # a student's run state goes once it is logged
    assert trials["proxy_accuracy"].between(0, 100).all() and (trials["score"] > 0).all()
    assert result.trace and {"evaluations", "region", "length", "restarted"} <= set(result.trace[0])
    assert len(plot_trust_region_trace(result.trace).axes[0].lines) == 1  # one trust region


def test_the_composite_search_records_what_it_expected_before_training(tiny_search):
    context, params, fingerprint = tiny_search(strategy="composite")
    result = run_search(context, params, fingerprint)
    trials = result.trials.set_index("trial_id")
    design, guided = trials.loc[:3], trials.loc[4:]
    assert design["predicted_accuracy"].isna().all() and guided["predicted_accuracy"].between(0, 100).all()
    assert design["p_feasible"].isna().all() and guided["p_feasible"].between(0, 1).all()
    assert not design["guided"].any() and guided["guided"].all()
    assert guided["predicted_latency_ms"].gt(0).all()  # the latency model is fitted on the design's profiles
    assert result.latency_error is not None and result.filtered == 0


def test_every_row_obeys_eq_2_and_the_composite_objective_computes_its_log_score(tiny_search):
    import math

    import numpy as np
    import torch

    from trade_pipeline.search.costs import CandidateCosts, composite_objective
    from trade_pipeline.search.score import resource_ratio

    context, params, fingerprint = tiny_search(strategy="composite")
    trials = run_search(context, params, fingerprint).trials
    costs = CandidateCosts(context.space, context.split.channels, context.split.num_classes, context.teacher_costs,
                           context.budget)
    objective = composite_objective(costs, context.score)
    for _, row in trials.iterrows():
        s = resource_ratio(row["params"], row["macs"], row["latency_ms"], context.teacher_costs)
        assert row["resource_ratio"] == pytest.approx(s, rel=1e-12)
        # Eq. 2 by hand: target / (accuracy * (1[accuracy >= target] + epsilon)) * s
        met = float(row["proxy_accuracy"] >= context.acc_target)
        score = context.acc_target / (row["proxy_accuracy"] * (met + context.epsilon)) * s
        assert row["score"] == pytest.approx(score, rel=1e-12) and row["log_score"] == pytest.approx(math.log(score))
        # the strategy's objective, given this row's accuracy and its measured cost ratios, is the logged value
        ratios = torch.tensor([[row["params"], row["macs"], row["latency_ms"]]], dtype=torch.float64)
        ratios = ratios / torch.tensor([context.teacher_costs[k] for k in ("params", "macs", "latency_ms")])
        told = objective.value(torch.tensor([[row["proxy_accuracy"]]], dtype=torch.float64), ratios)
        assert float(told) == pytest.approx(row["log_score"], rel=1e-9)
        assert objective.known(np.array([row["encoding"]]))[0, :2] == pytest.approx(ratios[0, :2].numpy())
    assert objective.threshold == context.acc_target


@pytest.mark.parametrize("strategy", ["turbo", "composite"])
def test_a_killed_search_resumes_without_training_any_candidate_twice(tiny_search, tmp_path, monkeypatch, strategy):
    state_dir = tmp_path / "state"
    script = (
        "import sys; sys.path.insert(0, %r)\n"
        "from conftest import tiny_context, tiny_search_params\n"
        "from trade_pipeline.search.runner import run_search\n"
        "run_search(*tiny_context(tiny_search_params(%r, strategy=%r)))\n"
    ) % (str(Path(__file__).parent), str(state_dir), strategy)
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while len(_rows(state_dir)) < 3 and child.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    before = _rows(state_dir)
    assert 3 <= len(before) < 8, "the child should have been killed mid-search"

    calls = _count_training(monkeypatch)
    trials = run_search(*tiny_search(strategy=strategy)).trials
    assert len(trials) == 8 and trials["trial_id"].is_unique and trials["spec_hash"].is_unique
    assert len(calls) == 8 - len(before)
    assert _rows(state_dir)[: len(before)] == before  # nothing already saved was rewritten


class _Killed(BaseException):
    """A kill as the process sees it: nothing catches it."""


def test_a_student_killed_mid_run_resumes_from_its_last_epoch_and_ends_as_if_never_stopped(tiny_search, tmp_path,
                                                                                          monkeypatch):
    import dataclasses

    import numpy as np

    from trade_pipeline.search.pruning import PruneRule
    from trade_pipeline.training import engine
    from trade_pipeline.training.checkpoint import Checkpoint

    context, _, _ = tiny_search(proxy={"epochs": 2, "warmup_epochs": 0, "batch_size": 64, "data_fraction": 0.5})
    total = context.proxy_updates
    per_epoch = total // 2
    point = tuple(np.random.default_rng(5).random(context.space.dimension).tolist())
    rule = PruneRule((1, per_epoch + 1), total, context.score)  # a probe in each epoch, never stopping
    candidate = objective.Candidate(trial_id=3, iteration=0, point=point, trust_region=None, prune=rule,
                                    checkpoint=str(tmp_path / "trial-3.safetensors"))
    straight = objective.evaluate_candidate(dataclasses.replace(candidate, checkpoint=None), "cpu", context)
    real_save = Checkpoint.save

    def save_then_die(self, *args, **kwargs):
        real_save(self, *args, **kwargs)
        raise _Killed

    monkeypatch.setattr(Checkpoint, "save", save_then_die)
    with pytest.raises(_Killed):  # killed right after its first epoch was saved
        objective.evaluate_candidate(candidate, "cpu", context)
    monkeypatch.setattr(Checkpoint, "save", real_save)
    updates: list[int] = []
    real_epoch = engine.Trainer.train_epoch
    monkeypatch.setattr(engine.Trainer, "train_epoch",
                        lambda self, batches, n_steps, bar: updates.append(n_steps) or real_epoch(self, batches, n_steps, bar))
    resumed = objective.evaluate_candidate(candidate, "cpu", context)
    assert sum(updates) == total - per_epoch  # the first epoch is not trained again
    assert resumed["proxy_accuracy"] == straight["proxy_accuracy"] and resumed["status"] == "ok"
    assert resumed["curve"] == straight["curve"] and [u for u, _ in resumed["curve"]] == [1, per_epoch + 1]


@pytest.mark.parametrize("strategy", ["composite", "turbo", "random", "evolution"])
def test_candidates_whose_known_costs_break_the_budget_are_never_proposed(tiny_search, strategy):
    # about half of the tiny space's students have more than 2,000 params (the fake teacher has 1e6)
    result = run_search(*tiny_search(strategy=strategy, budget={"max_params_ratio": 0.002}))
    assert len(result.trials) == 8 and set(result.trials["status"]) == {"ok"}
    assert (result.trials["params"] <= 2000).all()
    assert result.filtered > 0


def test_an_impossible_budget_stops_before_any_training_and_names_the_budget(tiny_search, monkeypatch):
    trained = _count_training(monkeypatch)  # a raising fake would only become a failed row
    context, params, fingerprint = tiny_search(budget={"max_params_ratio": 1e-6})
    with pytest.raises(InfeasibleBudgetError, match=r"search\.budget.*none trained"):
        run_search(context, params, fingerprint)
    assert _rows(Path(params.state_dir)) == [] and trained == []


def test_a_latency_budget_is_judged_on_measured_latency_once_the_model_cannot_know(tiny_search, monkeypatch):
    """Latency is predicted only after a few measurements: until then a latency budget is checked
    on the profiled candidate, which is then recorded over budget and never trained."""
    trained = _count_training(monkeypatch)
    context, params, fingerprint = tiny_search(budget={"max_latency_ratio": 1e-6})
    with pytest.raises(InfeasibleBudgetError, match="search.budget"):
        run_search(context, params, fingerprint)
    rows = _rows(Path(params.state_dir))
    assert rows and {row["status"] for row in rows} == {"over_budget"} and trained == []
    assert "max_latency_ratio" in rows[0]["reason"]


def test_failed_candidates_are_recorded_and_the_search_goes_on(tiny_search, monkeypatch):
    real = objective.proxy_train

    def sometimes_nan(model, context, seed, device, rung=None, **options):
        if seed % 3 == 0:
            return TrainResult(status="failed", reason="loss became nan at step 1")
        return real(model, context, seed, device, rung, **options)

    monkeypatch.setattr(objective, "proxy_train", sometimes_nan)
    trials = run_search(*tiny_search(strategy="random")).trials
    failed = trials[trials["status"] == "failed"]
    assert len(trials) == 8 and failed["trial_id"].tolist() == [0, 3, 6]
    assert failed["reason"].str.contains("nan").all() and failed["score"].isna().all()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("seed", 5),
        ("strategy", "random"),
        ("proxy", {"epochs": 2, "warmup_epochs": 0, "batch_size": 64, "data_fraction": 0.5}),
        ("score", {"acc_target": 60.0}),
        ("budget", {"max_s": 100.0}),
        ("space", {"stride": 2, "width": [4, 8, 12]}),  # a wider stem
        ("turbo", {"n_init": 4, "n_candidates": 300}),
        ("profile", {"warmup": 1, "repeats": 1}),
    ],
)
def test_any_setting_that_changes_results_refuses_to_resume(tiny_search, tiny_space, name, value):
    _scripted_search(tiny_search, n_trials=2)
    if name == "space":
        value = {**tiny_space, "stem": value}
    context, params, fingerprint = tiny_search(n_trials=3, **{name: value})
    with pytest.raises(ResumeError, match=rf"different {name}\b.*search\.resume=false"):
        run_search(context, params, fingerprint)


def test_more_trials_and_another_batch_size_or_executor_resume(tiny_search):
    _scripted_search(tiny_search, n_trials=2)
    trials = _scripted_search(tiny_search, n_trials=3, batch_size=1, top_k=1).trials
    assert trials["trial_id"].tolist() == [0, 1, 2]


def test_resume_false_sets_the_old_trials_aside(tiny_search, tmp_path):
    _scripted_search(tiny_search, n_trials=2)
    _scripted_search(tiny_search, n_trials=2, seed=5, resume=False)
    assert len(list(tmp_path.glob("state-before-*/trials.jsonl"))) == 1


@pytest.mark.parametrize("objective", ["eq2", "pareto"])
def test_the_dask_executor_gives_the_same_trials_as_local(tiny_search, tmp_path, objective):
    content = ["trial_id", "spec_hash", "block_sequence", "status", "params", "macs", "proxy_accuracy"]
    tables = {}
    for executor in ("local", "dask"):
        trials = run_search(*tiny_search(strategy="random", n_trials=4, executor=executor, objective=objective,
                                         state_dir=str(tmp_path / executor), dask={"n_workers": 2})).trials
        tables[executor] = trials[content].sort_values("trial_id", ignore_index=True)
    assert tables["local"].equals(tables["dask"])


@pytest.mark.parametrize("strategy", ["evolution", "lamcts", "rl"])
def test_every_strategy_drives_the_search_and_resumes(tiny_search, strategy):
    options = {"evolution": {"population_size": 3, "tournament_size": 2}, "lamcts": {"n_init": 3, "leaf_size": 3},
               "rl": {}}[strategy]
    run_search(*tiny_search(strategy=strategy, n_trials=4, **{strategy: options}))
    trials = run_search(*tiny_search(strategy=strategy, n_trials=6, **{strategy: options})).trials
    assert len(trials) == 6 and trials["spec_hash"].is_unique and set(trials["strategy"]) == {strategy}


def test_the_trial_log_is_the_one_record_of_evaluations_and_a_cut_log_is_refused(tiny_search, tmp_path):
    run_search(*tiny_search(strategy="random"))
    state_dir = tmp_path / "state"
    optimizer_state = json.loads((state_dir / "state.json").read_text())["optimizer"]
    assert "history" not in optimizer_state and optimizer_state["n_told"] == 8

    lines = (state_dir / "trials.jsonl").read_text().splitlines(keepends=True)
    (state_dir / "trials.jsonl").write_text("".join(lines[:-1]))
    with pytest.raises(ResumeError, match=r"saved after 8 evaluations but the history given has 7.*resume=false"):
        run_search(*tiny_search(strategy="random"))


def test_a_search_whose_every_candidate_fails_stops_with_their_error(tiny_search, monkeypatch):
    monkeypatch.setattr(objective, "proxy_train",
                        lambda *args, **options: TrainResult(status="failed", reason="RuntimeError: shapes do not match"))
    context, params, fingerprint = tiny_search(strategy="random")
    with pytest.raises(CandidatesFailedError, match=r"none of the first 2 candidates.*shapes do not match \(2x\)"):
        run_search(context, params, fingerprint)
    assert len(_rows(Path(params.state_dir))) == 2  # what was evaluated is kept


class _Interrupted(Exception):
    """Stands in for a kill between two trials."""


def _scripted_evaluate(candidate, device, context, stop_after=None, calls=None):
    """A trial row without training or timing: a student's accuracy and costs are fixed by its
    spec hash, so an interrupted and an uninterrupted search see the same values."""
    import hashlib

    import numpy as np

    from trade_pipeline.search.trials import TRIAL_COLUMNS

    if calls is not None:
        if stop_after is not None and len(calls) == stop_after:
            raise _Interrupted
        calls.append(candidate.trial_id)
    spec = context.space.decode(np.asarray(candidate.point))
    digits = int(hashlib.sha256(spec.hash.encode()).hexdigest()[:12], 16)
    accuracy, s = 30.0 + digits % 600 / 10, 0.2 + (digits // 600) % 200 / 100
    score = context.score.value(accuracy, s)
    row = dict.fromkeys(TRIAL_COLUMNS)
    row.update(trial_id=candidate.trial_id, iteration=candidate.iteration, strategy=context.strategy, status="ok",
               spec_json=spec.to_json(), spec_hash=spec.hash, block_sequence=spec.block_sequence,
               encoding=list(candidate.point), params=1e5 * s, macs=1e7 * s, latency_ms=s, latency_cv=0.0,
               resource_ratio=s, proxy_accuracy=accuracy, score=score, log_score=context.score.log_value(accuracy, s),
               trust_region=candidate.trust_region, rung=candidate.rung, fidelity=1.0, image_epochs=1,
               predicted_accuracy=candidate.predicted_accuracy, p_feasible=candidate.p_feasible,
               guided=candidate.guided, predicted_latency_ms=candidate.predicted_latency_ms, seconds=0.0,
               started_at="2026-01-01T00:00:00+00:00")
    return row


def _scripted_search(tiny_search, **overrides):
    """A search scored by :func:`_scripted_evaluate`: what the loop does around the trainings,
    without training."""
    from functools import partial

    context, params, fingerprint = tiny_search(**overrides)
    return run_search(context, params, fingerprint, partial(_scripted_evaluate, context=context))


@pytest.mark.parametrize("overrides", [{"strategy": "composite"}, {"strategy": "turbo"},
                                       {"strategy": "composite", "objective": "pareto"}])
def test_an_interrupted_search_resumes_to_the_same_students_and_optimizer_state(tiny_search, tmp_path, overrides):
    from functools import partial

    runs = {}
    for name in ("interrupted", "straight"):
        context, params, fingerprint = tiny_search(**overrides, state_dir=str(tmp_path / name))
        if name == "interrupted":
            calls: list[int] = []
            with pytest.raises(_Interrupted):  # mid-bracket: 5 of 8 trials, batches of 2
                run_search(context, params, fingerprint,
                           partial(_scripted_evaluate, context=context, stop_after=5, calls=calls))
            assert len(_rows(tmp_path / name)) == 5
        calls = []
        evaluate = partial(_scripted_evaluate, context=context, calls=calls)
        trials = run_search(context, params, fingerprint, evaluate).trials
        if name == "interrupted":
            assert len(calls) == 3  # only what the log lacked
        runs[name] = (trials, json.loads((tmp_path / name / "state.json").read_text()))
    (interrupted, resumed_state), (straight, straight_state) = runs["interrupted"], runs["straight"]
    assert interrupted["encoding"].tolist() == straight["encoding"].tolist()
    assert resumed_state["optimizer"] == straight_state["optimizer"]


@pytest.mark.parametrize("strategy", ["composite", "evolution"])
def test_a_search_of_the_front_is_told_eq2_without_its_target_and_models_no_feasibility(tiny_search, strategy):
    import math

    from trade_pipeline.search.runner import _told_history

    trials = _scripted_search(tiny_search, strategy=strategy, objective="pareto",
                              evolution={"population_size": 4, "tournament_size": 2}).trials
    context, params, _ = tiny_search(strategy=strategy, objective="pareto")
    told = _told_history(trials.to_dict("records"), context, params)
    assert told["values"].tolist() == pytest.approx([math.log(s / accuracy) for s, accuracy
                                                     in zip(trials["resource_ratio"], trials["proxy_accuracy"])])
    assert told["outcomes"].tolist() == trials["proxy_accuracy"].tolist()
    guided = trials[trials["guided"]]
    assert len(guided) == 4 and guided["p_feasible"].isna().all()  # no target, so no P(meets it)
    if strategy == "composite":
        assert guided["predicted_accuracy"].between(0, 100).all()


def test_specs_that_build_one_network_are_one_candidate_to_the_strategy(tiny_search):
    """The tiny space's first block (one layer, stride 1, 8 wide) has a residual only behind the
    8-wide stem: behind the 4-wide one its two skip choices are one network, trained once."""
    import numpy as np

    from trade_pipeline.search.costs import CandidateCosts
    from trade_pipeline.search.runner import _make_optimizer

    context, params, _ = tiny_search(strategy="composite")
    costs = CandidateCosts(context.space, context.split.channels, context.split.num_classes, context.teacher_costs,
                           context.budget)
    optimizer = _make_optimizer(params, context, costs)
    names = context.space.dimension_names

    def key(stem_width: float, skip: float):  # bin centres: 0.25 the first choice, 0.75 the second
        point = np.full(len(names), 0.25)
        point[names.index("stem.width")], point[names.index("blocks[0].skip")] = stem_width, skip
        return optimizer.canonicalize(point)

    assert key(0.25, 0.25) == key(0.25, 0.75)  # 4-wide stem: identity and none build the same network
    assert key(0.75, 0.25) != key(0.75, 0.75)  # 8-wide stem: the residual is there or not
