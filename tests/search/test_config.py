"""``params:search`` is validated whole before the first candidate, naming the bad key."""
from __future__ import annotations

import pytest
import torch

from trade_pipeline.config import ConfigError
from trade_pipeline.search.config import parse_search_params
from trade_pipeline.students.space_config import SearchSpaceError


@pytest.fixture
def params_with(tiny_space):
    def make(**overrides):
        return {"score": {"acc_target": 90.0}, "space": tiny_space, **overrides}
    return make


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"strategy": "bayes"}, r"search.strategy must be one of \['random', 'turbo'\]"),
        ({"strategy": "lamcts"}, "not implemented yet"),
        ({"executor": "ray"}, r"search.executor must be one of \['dask', 'local'\]"),
        ({"n_trials": 0}, r"search\.n_trials"),
        ({"proxy": {"epocs": 3}}, r"search\.proxy\.epocs: unknown key"),
        ({"score": {"acc_target": 90.0, "reference_student": "resnet18"}}, "exactly one of"),
        ({"score": {}}, "exactly one of"),
        ({"budget": {"max_flops_ratio": 0.5}}, r"search\.budget\.max_flops_ratio"),
        ({"turbo": {"length_min": 2.0}}, r"search\.turbo"),
        ({"turbo": {"n_regions": 2}}, r"search\.turbo.*n_regions"),
        ({"proxy": {"optimizer": "adamz"}}, r"search\.proxy.*unknown optimizer 'adamz'"),
        ({"proxy": {"or_targets": ["conv3x3"]}}, r"search\.proxy"),
        pytest.param({"device": "cuda"}, r"search\.device.*CUDA is not available",
                     marks=pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")),
    ],
)
def test_bad_search_parameters_are_named(params_with, overrides, message):
    with pytest.raises(ConfigError, match=message):
        parse_search_params(params_with(**overrides))


def test_a_bad_space_entry_is_named(params_with, tiny_space):
    space = {**tiny_space, "stem": {"stride": 3, "width": [8]}}
    with pytest.raises(SearchSpaceError, match=r"search\.space\.stem"):
        parse_search_params(params_with(space=space))


def test_a_shortened_proxy_run_keeps_its_warmup_inside_the_run(params_with):
    params, _, _ = parse_search_params(params_with(proxy={"epochs": 1, "warmup_epochs": 2}))
    assert params.proxy.warmup == 0
    params, _, _ = parse_search_params(params_with(proxy={"epochs": 9, "warmup_epochs": 2}))
    assert params.proxy.warmup == 2
