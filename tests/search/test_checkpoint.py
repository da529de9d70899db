import json

import numpy as np
import pytest

from trade_pipeline.search.checkpoint import (
    FINGERPRINT_KEY,
    check_resume,
    load_search_state,
    save_search_state,
    search_fingerprint,
)

SPACE = {"max_blocks": 8, "kernel_sizes": [3, 5]}


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


def test_fingerprint_is_stable_across_key_order_and_changes_with_settings():
    first = search_fingerprint(SPACE, "turbo", {"seed": 0, "teacher": {"a": 1, "b": 2}})
    reordered_space = dict(reversed(SPACE.items()))
    again = search_fingerprint(reordered_space, "turbo", {"teacher": {"b": 2, "a": 1}, "seed": 0})
    assert first == again
    assert len(first["strategy"]) == 64
    assert search_fingerprint(SPACE, "random", {"seed": 0, "teacher": {}}) != first


def test_resume_only_with_a_saved_matching_state_and_resume_on():
    fingerprint = search_fingerprint(SPACE, "turbo", {"seed": 0})
    saved = {FINGERPRINT_KEY: fingerprint, "iteration": 4}
    assert check_resume(saved, fingerprint, resume=True, fresh_on_mismatch=False) is True
    assert check_resume(saved, fingerprint, resume=False, fresh_on_mismatch=False) is False
    assert check_resume(None, fingerprint, resume=True, fresh_on_mismatch=False) is False


def test_mismatch_refusal_names_the_changed_settings_and_the_fresh_start_flag():
    saved = {FINGERPRINT_KEY: search_fingerprint(SPACE, "turbo", {"seed": 0})}
    current = search_fingerprint(SPACE, "random", {"seed": 1})
    with pytest.raises(ValueError, match=r"different seed, strategy.*search\.resume=false"):
        check_resume(saved, current, resume=True, fresh_on_mismatch=False)


def test_mismatch_starts_fresh_when_allowed():
    saved = {FINGERPRINT_KEY: search_fingerprint(SPACE, "turbo", {"seed": 0})}
    current = search_fingerprint({**SPACE, "max_blocks": 4}, "turbo", {"seed": 0})
    assert check_resume(saved, current, resume=True, fresh_on_mismatch=True) is False
