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
from trade_pipeline.search.plots import plot_trust_region_trace
from trade_pipeline.search.runner import InfeasibleBudgetError, run_search
from trade_pipeline.training.engine import TrainResult

EXTRA = {"teacher": "fake"}


def _rows(state_dir: Path) -> list[dict]:
    path = state_dir / "trials.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _count_training(monkeypatch) -> list[int]:
    calls: list[int] = []
    real = objective.proxy_train

    def counting(model, context, seed, device):
        calls.append(seed)
        return real(model, context, seed, device)

    monkeypatch.setattr(objective, "proxy_train", counting)
    return calls


def test_a_search_logs_every_trial_once_with_the_documented_columns(tiny_search, monkeypatch):
    calls = _count_training(monkeypatch)
    context, params, turbo = tiny_search()
    result = run_search(context, params, turbo, EXTRA)
    trials = result.trials
    assert len(trials) == 8 and trials["trial_id"].tolist() == list(range(8))
    assert trials["spec_hash"].is_unique
    assert {"status", "score", "proxy_accuracy", "params", "macs", "latency_ms", "block_sequence",
            "strategy"} <= set(trials.columns)
    assert set(trials["status"]) == {"ok"} and len(calls) == 8
    assert trials["proxy_accuracy"].between(0, 100).all() and (trials["score"] > 0).all()
    assert result.trace and {"evaluations", "region", "length", "restarted"} <= set(result.trace[0])
    assert len(plot_trust_region_trace(result.trace).axes[0].lines) == 1  # one trust region


def test_a_killed_search_resumes_without_training_any_candidate_twice(tiny_search, tmp_path, monkeypatch):
    state_dir = tmp_path / "state"
    script = (
        "import sys; sys.path.insert(0, %r)\n"
        "from conftest import tiny_context, tiny_search_params\n"
        "from trade_pipeline.search.runner import run_search\n"
        "run_search(*tiny_context(tiny_search_params(%r)), {'teacher': 'fake'})\n"
    ) % (str(Path(__file__).parent), str(state_dir))
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while len(_rows(state_dir)) < 3 and child.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    before = _rows(state_dir)
    assert 3 <= len(before) < 8, "the child should have been killed mid-search"

    calls = _count_training(monkeypatch)
    context, params, turbo = tiny_search()
    trials = run_search(context, params, turbo, EXTRA).trials
    assert len(trials) == 8 and trials["trial_id"].is_unique and trials["spec_hash"].is_unique
    assert len(calls) == 8 - len(before)
    assert _rows(state_dir)[: len(before)] == before  # nothing already saved was rewritten


def test_over_budget_candidates_never_reach_training_and_an_impossible_budget_stops(tiny_search, monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("an over-budget candidate was trained")

    monkeypatch.setattr(objective, "proxy_train", no_training)
    context, params, turbo = tiny_search(budget={"max_params_ratio": 1e-6})
    with pytest.raises(InfeasibleBudgetError, match="search.budget"):
        run_search(context, params, turbo, EXTRA)
    rows = _rows(Path(params.state_dir))
    assert len(rows) == 4 and {row["status"] for row in rows} == {"over_budget"}
    assert "max_params_ratio" in rows[0]["reason"]


def test_failed_candidates_are_recorded_and_the_search_goes_on(tiny_search, monkeypatch):
    real = objective.proxy_train

    def sometimes_nan(model, context, seed, device):
        if seed % 3 == 0:
            return TrainResult(status="failed", reason="loss became nan at step 1")
        return real(model, context, seed, device)

    monkeypatch.setattr(objective, "proxy_train", sometimes_nan)
    context, params, turbo = tiny_search(strategy="random")
    trials = run_search(context, params, turbo, EXTRA).trials
    failed = trials[trials["status"] == "failed"]
    assert len(trials) == 8 and failed["trial_id"].tolist() == [0, 3, 6]
    assert failed["reason"].str.contains("nan").all() and failed["score"].isna().all()


def test_a_changed_space_refuses_to_resume_and_resume_false_sets_old_trials_aside(tiny_search, tmp_path):
    context, params, turbo = tiny_search(n_trials=2)
    run_search(context, params, turbo, EXTRA)
    context, params, turbo = tiny_search(n_trials=2, seed=5)
    with pytest.raises(ValueError, match="seed|search.resume=false"):
        run_search(context, params, turbo, {"teacher": "fake", "seed": 5})
    context, params, turbo = tiny_search(n_trials=2, seed=5, resume=False)
    run_search(context, params, turbo, {"teacher": "fake", "seed": 5})
    assert len(list(tmp_path.glob("state-before-*/trials.jsonl"))) == 1


def test_the_dask_executor_gives_the_same_trials_as_local(tiny_search, tmp_path):
    content = ["trial_id", "spec_hash", "block_sequence", "status", "params", "macs", "proxy_accuracy"]
    tables = {}
    for executor in ("local", "dask"):
        context, params, turbo = tiny_search(strategy="random", n_trials=4, executor=executor,
                                             state_dir=str(tmp_path / executor), dask={"n_workers": 2})
        trials = run_search(context, params, turbo, EXTRA).trials
        tables[executor] = trials[content].sort_values("trial_id", ignore_index=True)
    assert tables["local"].equals(tables["dask"])
