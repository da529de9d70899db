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
    # every student reaches a 1 % target, so the selection is the two lowest scores
    assert [entry["spec_hash"] for entry in selected] == trials.nsmallest(2, "score")["spec_hash"].tolist()


def test_the_proxy_task_can_report_a_learning_curve(tiny_search):
    """``proxy_train(eval_every=1)`` scores every epoch (Fig. 4's curves); the search scores once."""
    import torch

    from trade_pipeline.models import build_model, student_model_spec
    from trade_pipeline.search.objective import proxy_train

    context, params, _ = tiny_search(proxy={"epochs": 2, "warmup_epochs": 0, "batch_size": 64, "data_fraction": 0.5})
    split = context.split
    spec = student_model_spec(context.space.decode([0.5] * context.space.dimension), split.channels,
                              split.num_classes, split.image_size)
    torch.manual_seed(0)
    curve = proxy_train(build_model(spec), context, 0, "cpu", eval_every=1).history
    torch.manual_seed(0)
    once = proxy_train(build_model(spec), context, 0, "cpu").history
    assert [row["epoch"] for row in curve] == [1, 2] and all(row["top1"] is not None for row in curve)
    assert once[0]["top1"] is None and once[-1]["top1"] == curve[-1]["top1"]
