"""``search.hard_label_search``: Table 2's second search, on hard labels, beside the distilled one."""
from __future__ import annotations

from trade_pipeline.search.config import SearchParams
from trade_pipeline.search.session import run_hard_label_search
from trade_pipeline.search.trials import TRIAL_COLUMNS

from .conftest import tiny_inputs, tiny_search_params


def test_off_it_trains_nothing_and_returns_an_empty_trials_table(tmp_path):
    params = SearchParams.model_validate(tiny_search_params(str(tmp_path / "state")))
    trials, selected = run_hard_label_search(*tiny_inputs(), params)
    assert trials.empty and tuple(trials.columns) == TRIAL_COLUMNS and selected == []
    assert not any(tmp_path.iterdir())


def test_on_it_searches_without_kd_in_its_own_state_and_selects_its_students(tmp_path):
    params = SearchParams.model_validate(tiny_search_params(
        str(tmp_path / "state"), hard_label_search=True, n_trials=4, top_k=2, score={"acc_target": 1.0}))
    trials, selected = run_hard_label_search(*tiny_inputs(), params)
    assert len(trials) == 4 and (trials["status"] == "ok").all()
    assert [path.name for path in tmp_path.iterdir()] == ["state_hard_label"]  # the KD search's state untouched
    assert 1 <= len(selected) <= 2 and {entry["spec_hash"] for entry in selected} <= set(trials["spec_hash"])
