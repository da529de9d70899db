"""A tiny but real search setup: the embedded split, a tiny trained teacher, a 2-block space."""
from __future__ import annotations

import copy
import functools
from typing import Any

import pytest

from trade_pipeline.data.config import DataParams
from trade_pipeline.data.sources import load_source
from trade_pipeline.data.split import make_split
from trade_pipeline.search.checkpoint import search_fingerprint
from trade_pipeline.search.config import SearchParams
from trade_pipeline.search.objective import ObjectiveContext
from trade_pipeline.search.session import objective_context
from trade_pipeline.teachers.config import TeacherPipelineParams
from trade_pipeline.teachers.logits import logit_cache
from trade_pipeline.teachers.sources import prepare_teachers

TEACHER = "tiny_cnn"

TINY_SPACE = {
    "min_feature_size": 4,
    "stem": {"stride": 2, "width": [4, 8]},
    "blocks": [
        {"stride": 1, "layers": [1], "block_type": ["fused_mbconv", "mbconv"], "kernel_size": [3],
         "expansion_ratio": [1, 2], "se_ratio": [0, 0.25], "skip": ["identity", "none"], "width": [8]},
        {"stride": 2, "layers": [0, 1], "block_type": ["fused_mbconv", "mbconv"], "kernel_size": [3],
         "expansion_ratio": [2], "se_ratio": [0], "skip": ["identity"], "width": [8, 16]},
    ],
    "transformer": {"depth": [0, 1], "width": [16], "heads": [2], "mlp_ratio": [2]},
}


def tiny_search_params(state_dir: str = "", **overrides: Any) -> dict[str, Any]:
    params = {
        "strategy": "turbo", "n_trials": 8, "batch_size": 2, "seed": 0, "state_dir": state_dir,
        "turbo": {"n_init": 4, "n_candidates": 200},
        "composite": {"n_init": 4, "n_candidates": 200, "n_global": 100},
        "proxy": {"epochs": 1, "warmup_epochs": 0, "batch_size": 64, "data_fraction": 0.5},
        "score": {"acc_target": 50.0},
        "profile": {"warmup": 0, "repeats": 1},
        "space": TINY_SPACE,
    }
    params.update(overrides)
    return params


def tiny_inputs() -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """The split and the teacher outputs a search reads (a fresh copy per call; built once per process)."""
    return copy.deepcopy(_tiny_inputs())


@functools.cache
def _tiny_inputs() -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """A real teacher (conf/test's tiny CNN, 6 epochs on mini-train: about 93 % right there, 75 % on
    mini-val, soft probabilities) so that distillation differs from hard labels; its profile's costs
    are round numbers the budget tests count on."""
    data = DataParams.model_validate({"n_mini_train": 300})
    split = make_split(data, load_source(data))
    params = TeacherPipelineParams.model_validate({"search_teacher": TEACHER, "teachers": {TEACHER: {
        "source": "train", "model": "resnet10t", "model_kwargs": {"channels": [8, 16, 16, 32], "stem_width": 8},
        "train": {"epochs": 6, "batch_size": 32, "lr": 0.01, "warmup_epochs": 0.2}}}})
    teacher_logits = logit_cache(TEACHER, prepare_teachers(params, split)[TEACHER].model, split)
    teacher_profile = {TEACHER: {"params": 1e6, "macs": 1e8, "latency_ms": 5.0, "device": "cpu"}}
    return split, teacher_profile, teacher_logits


def tiny_context(search: dict[str, Any]) -> tuple[ObjectiveContext, SearchParams, dict[str, str]]:
    """``run_search``'s arguments: the objective context, the parameters and the resume fingerprint."""
    params = SearchParams.model_validate(search)
    split, teacher_profile, teacher_logits = tiny_inputs()
    context = objective_context(split, teacher_profile, teacher_logits, params)
    return context, params, search_fingerprint(params, TEACHER, split.fingerprint)


@pytest.fixture
def tiny_space() -> dict[str, Any]:
    return TINY_SPACE


@pytest.fixture
def tiny_search(tmp_path):
    """``make(**overrides) -> (context, params, fingerprint)`` with state under a temp folder."""
    def make(**overrides: Any):
        overrides.setdefault("state_dir", str(tmp_path / "state"))
        return tiny_context(tiny_search_params(**overrides))
    return make
