import json

import numpy as np
import pytest

from trade_pipeline.search.checkpoint import (
    FINGERPRINT_KEY,
    ResumeError,
    check_resume,
    load_search_state,
    save_search_state,
    search_fingerprint,
)
from trade_pipeline.search.config import SearchParams
from trade_pipeline.serialization import fingerprint


def test_state_round_trips_including_numpy_values(tmp_path):
    path = tmp_path / "search" / "state.json"
    state = {"iteration": 3, "lengths": np.array([0.8, 0.4]), "best": np.float32(1.5)}
    save_search_state(path, state)
    assert load_search_state(path) == {"iteration": 3, "lengths": [0.8, 0.4], "best": 1.5}


def test_missing_state_loads_as_none(tmp_path):
    assert load_search_state(tmp_path / "state.json") is None


def test_a_failing_write_leaves_the_previous_state_intact(tmp_path, monkeypatch):
    path = tmp_path / "state.json"
    save_search_state(path, {"iteration": 1})

    def crash(*args, **kwargs):
        raise RuntimeError("killed mid-write")

    monkeypatch.setattr(json, "dump", crash)
    with pytest.raises(RuntimeError, match="killed"):
        save_search_state(path, {"iteration": 2})
    monkeypatch.undo()
    assert load_search_state(path) == {"iteration": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_corrupt_state_error_says_how_to_start_fresh(tmp_path):
    path = tmp_path / "state.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match="search.resume=false"):
        load_search_state(path)


def _params(tiny_space, **overrides) -> SearchParams:
    return SearchParams.model_validate({"score": {"acc_target": 90.0}, "space": tiny_space, **overrides})


def test_fingerprint_is_stable_and_covers_settings_that_change_results(tiny_space):
    first = search_fingerprint(_params(tiny_space), "fake", "split-a")
    assert first == search_fingerprint(_params(dict(reversed(tiny_space.items()))), "fake", "split-a")
    assert len(first["strategy"]) == 16
    assert {"seed", "strategy", "proxy", "score", "budget", "space", "composite", "profile", "device", "teacher",
            "split"} <= set(first)
    assert search_fingerprint(_params(tiny_space), "other", "split-a")["teacher"] != first["teacher"]
    assert search_fingerprint(_params(tiny_space), "fake", "split-b")["split"] != first["split"]


def test_how_far_and_where_a_search_runs_are_not_part_of_the_fingerprint(tiny_space):
    first = search_fingerprint(_params(tiny_space), "fake", "split-a")
    moved = _params(tiny_space, n_trials=500, batch_size=8, executor="dask", state_dir="elsewhere", top_k=5,
                    hard_label_search=True)  # a second search beside this one
    assert search_fingerprint(moved, "fake", "split-a") == first


def test_the_ladders_settings_count_only_while_it_is_on(tiny_space):
    first = search_fingerprint(_params(tiny_space), "fake", "split-a")
    off = _params(tiny_space, fidelity={"enabled": False, "rungs": [0.5, 1.0], "eta": 2})
    assert search_fingerprint(off, "fake", "split-a") == first
    on = search_fingerprint(_params(tiny_space, fidelity={"rungs": [0.5, 1.0]}), "fake", "split-a")
    assert on["fidelity"] != first["fidelity"]


def test_a_front_search_resumes_at_another_target_and_an_eq2_one_does_not(tiny_space):
    eq2 = search_fingerprint(_params(tiny_space), "fake", "split-a")
    assert "objective" not in eq2 and "pareto" not in eq2  # as before the Pareto mode: old states resume
    retargeted = _params(tiny_space, score={"acc_target": 12.0})
    assert search_fingerprint(retargeted, "fake", "split-a")["score"] != eq2["score"]
    front = search_fingerprint(_params(tiny_space, objective="pareto"), "fake", "split-a")
    assert "score" not in front and front["objective"] != fingerprint("eq2")
    assert search_fingerprint(_params(tiny_space, objective="pareto", score={"acc_target": 12.0}), "fake",
                              "split-a") == front
    assert search_fingerprint(_params(tiny_space, objective="pareto", pareto={"max_s": 1.0}), "fake",
                              "split-a")["pareto"] != front["pareto"]


def test_resume_only_with_a_saved_matching_state_and_resume_on(tiny_space):
    fingerprint = search_fingerprint(_params(tiny_space), "fake", "split-a")
    saved = {FINGERPRINT_KEY: fingerprint, "iteration": 4}
    assert check_resume(saved, fingerprint, resume=True) is True
    assert check_resume(saved, fingerprint, resume=False) is False
    assert check_resume(None, fingerprint, resume=True) is False


def test_mismatch_refusal_names_the_changed_settings_and_the_fresh_start_flag(tiny_space):
    saved = {FINGERPRINT_KEY: search_fingerprint(_params(tiny_space), "fake", "split-a")}
    current = search_fingerprint(_params(tiny_space, strategy="random", seed=1), "fake", "split-a")
    # the composite block counts only while composite is the strategy
    with pytest.raises(ResumeError, match=r"different composite, seed, strategy.*search\.resume=false"):
        check_resume(saved, current, resume=True)


def test_a_state_written_in_another_format_is_refused_as_another_version(tiny_space):
    current = search_fingerprint(_params(tiny_space), "fake", "split-a")
    older = {FINGERPRINT_KEY: {name: value for name, value in current.items() if name != "format"}}
    with pytest.raises(ResumeError, match=r"another version of trade_pipeline.*search\.resume=false"):
        check_resume(older, current, resume=True)
