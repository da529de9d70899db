"""``params:search`` is validated whole before the first candidate, naming the bad key."""
from __future__ import annotations

import re

import pytest
import torch

from trade_pipeline.config import ConfigError
from trade_pipeline.search.config import SearchParams

from .conftest import TEACHER


@pytest.fixture
def params_with(tiny_space):
    def make(**overrides):
        return {"score": {"acc_target": 90.0}, "space": tiny_space, **overrides}
    return make


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"strategy": "bayes"}, r"search\.strategy: unknown strategy 'bayes'; use one of .*random.*turbo"),
        ({"executor": "ray"}, r"search\.executor: Input should be 'local' or 'dask'"),
        ({"n_trials": 0}, r"search\.n_trials: .*greater than or equal to 1 \(got 0\)"),
        ({"batch_size": 0}, r"search\.batch_size"),
        ({"proxy": {"epochs": -1}}, r"search\.proxy\.epochs"),
        ({"proxy": {"epocs": 3}}, r"search\.proxy\.epocs: unknown key \(did you mean 'epochs'"),
        ({"proxy": {"seed": 3}}, r"search\.proxy\.seed: each candidate is seeded with search\.seed"),
        ({"proxy": {"data_fraction": 0}}, r"search\.proxy\.data_fraction"),
        ({"score": {"acc_target": 90.0, "reference_student": "resnet18"}}, "exactly one of"),
        ({"score": {}}, "exactly one of"),
        ({"score": {"reference_student": "resnet_19"}}, r"search\.score\.reference_student: timm has no model"),
        ({"budget": {"max_flops_ratio": 0.5}}, r"search\.budget\.max_flops_ratio"),
        ({"turbo": {"length_min": 2.0}}, r"search\.turbo: need length_min <= length_init"),
        ({"turbo": {"n_regions": 2}}, r"search\.turbo\.n_regions: unknown key"),
        ({"proxy": {"optimizer": "adamz"}}, r"search\.proxy\.optimizer: unknown optimizer 'adamz'"),
        ({"proxy": {"or_targets": ["conv3x3"]}}, r"search\.proxy\.or_targets\.0"),
        ({"profile": {"repeats": 0}}, r"search\.profile\.repeats"),
        ({"hard_label_search": True, "proxy": {"kd_alpha": 0}}, r"search: .*hard_label_search repeats the search"),
        ({"space": {}}, r"search\.space\.stem: Field required"),
        ({"objective": "front"}, r"search\.objective: Input should be 'eq2' or 'pareto'"),
        ({"objective": "pareto", "strategy": "turbo"},
         r"search: .*objective pareto needs a strategy that searches a front; 'turbo' .*composite, evolution, random"),
        ({"objective": "pareto", "pruning": {"enabled": True}}, r"search: .*pruning and search\.fidelity judge"),
        ({"pareto": {"min_accuracy": 100}}, r"search\.pareto\.min_accuracy"),
        pytest.param({"device": "cuda"}, r"search\.device.*CUDA is not available",
                     marks=pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")),
    ],
)
def test_bad_search_parameters_are_named(params_with, overrides, message):
    with pytest.raises(ConfigError, match=message):
        SearchParams.model_validate(params_with(**overrides))


def test_a_bad_space_entry_is_named(params_with, tiny_space):
    space = {**tiny_space, "stem": {"stride": 3, "width": [8]}}
    with pytest.raises(ConfigError, match=r"search\.space\.stem\.stride: Input should be 1 or 2"):
        SearchParams.model_validate(params_with(space=space))


def test_a_shortened_proxy_run_keeps_its_warmup_inside_the_run(params_with):
    params = SearchParams.model_validate(params_with(proxy={"epochs": 1, "warmup_epochs": 2}))
    assert params.proxy.warmup_epochs == 0
    params = SearchParams.model_validate(params_with(proxy={"epochs": 9, "warmup_epochs": 2}))
    assert params.proxy.warmup_epochs == 2
    assert SearchParams.model_validate(params_with(proxy={"epochs": 1})).proxy.warmup_epochs == 0


def test_a_teacher_timed_another_way_than_the_candidates_is_refused(tiny_space):
    from trade_pipeline.errors import InputError
    from trade_pipeline.search.session import search_teacher

    from .conftest import tiny_inputs

    split, profile, logits = tiny_inputs()
    params = SearchParams.model_validate({"score": {"acc_target": 90.0}, "space": tiny_space})
    assert search_teacher(split, profile, logits, params) == TEACHER
    profile = {TEACHER: {**profile[TEACHER], "latency_method": "cuda_graph"}}
    with pytest.raises(InputError, match="measured with cuda_graph timing but candidates would be timed with eager"):
        search_teacher(split, profile, logits, params)


def test_candidates_are_timed_against_the_profiled_teacher_model_only(tiny_space):
    from trade_pipeline.errors import InputError
    from trade_pipeline.models import ModelArtifact
    from trade_pipeline.profiling import count_params
    from trade_pipeline.search.session import objective_context

    from .conftest import tiny_inputs

    split, profile, logits = tiny_inputs()
    params = SearchParams.model_validate({"score": {"acc_target": 90.0}, "space": tiny_space})
    teacher = ModelArtifact({}, torch.nn.Linear(4, 2))
    with pytest.raises(InputError, match="teacher_model has 10 parameters but the profiled search teacher 'tiny_cnn' has"):
        objective_context(split, profile, logits, params, teacher)
    profile = {TEACHER: {**profile[TEACHER], "params": count_params(teacher.model)}}
    reference = objective_context(split, profile, logits, params, teacher).latency_reference
    assert reference.model is teacher.model and reference.latency_ms == profile[TEACHER]["latency_ms"]
    assert objective_context(split, profile, logits, params).latency_reference is None


def test_the_hard_label_search_is_the_same_search_without_kd_in_its_own_state(params_with):
    params = SearchParams.model_validate(params_with(hard_label_search=True, state_dir="state/search/"))
    variant = params.hard_label_variant()
    assert (variant.proxy.kd_alpha, params.proxy.kd_alpha) == (0.0, 0.7)
    assert variant.state_dir == "state/search_hard_label" and not variant.hard_label_search
    same = {"proxy", "state_dir", "hard_label_search"}
    assert variant.model_dump(exclude=same) == params.model_dump(exclude=same)
    assert variant.proxy.model_dump(exclude={"kd_alpha"}) == params.proxy.model_dump(exclude={"kd_alpha"})


def test_teacher_logits_from_another_split_are_refused_before_any_training(tiny_space):
    from trade_pipeline.errors import InputError
    from trade_pipeline.search.session import objective_context

    from .conftest import tiny_inputs

    split, profile, logits = tiny_inputs()
    params = SearchParams.model_validate({"score": {"acc_target": 90.0}, "space": tiny_space})
    with pytest.raises(InputError, match="teacher_logits were computed on another split"):
        objective_context(split, profile, {**logits, "split_fingerprint": "another"}, params)


@pytest.mark.parametrize(
    ("profile_change", "message"),
    [
        ({"device": "cuda"}, "measured on cuda but candidates are profiled on cpu"),
        ({"latency_method": "cuda_graph"}, "measured with cuda_graph timing but candidates would be timed with eager"),
        ({"teacher": "other"}, "teacher_logits come from 'tiny_cnn', which teacher_profile does not list"),
    ],
)
def test_a_teacher_profiled_otherwise_than_the_candidates_is_refused(tiny_space, profile_change, message):
    """Eq. 2's latency ratio compares the teacher's timing with the candidates': both must come
    from the same kind of device and timing method."""
    from trade_pipeline.errors import InputError
    from trade_pipeline.search.session import objective_context

    from .conftest import tiny_inputs

    split, profile, logits = tiny_inputs()
    if "teacher" in profile_change:
        profile = {profile_change["teacher"]: profile[TEACHER]}
    else:
        profile = {TEACHER: {**profile[TEACHER], **profile_change}}
    params = SearchParams.model_validate({"score": {"acc_target": 90.0}, "space": tiny_space})
    with pytest.raises(InputError, match=re.escape(message)):
        objective_context(split, profile, logits, params)


def test_a_reference_student_sets_the_target_to_its_own_proxy_accuracy(tiny_space):
    """conf/paper's target: a predefined timm student trained exactly like the candidates."""
    from trade_pipeline.search.objective import reference_accuracy
    from trade_pipeline.search.session import objective_context

    from .conftest import tiny_inputs, tiny_search_params

    split, profile, logits = tiny_inputs()
    search = tiny_search_params()
    params = SearchParams.model_validate({**search, "score": {"reference_student": "resnet10t"}})
    context = objective_context(split, profile, logits, params)
    assert 0 < context.acc_target <= 100
    assert context.acc_target == reference_accuracy("resnet10t", context, "cpu")  # deterministic on CPU
    assert context.score.acc_target == context.acc_target
