"""A tiny but real search setup: the embedded split, fake teacher logits, a 2-block space."""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from trade_pipeline.data.config import DataParams
from trade_pipeline.data.sources import load_source
from trade_pipeline.data.split import make_split
from trade_pipeline.search.checkpoint import search_fingerprint
from trade_pipeline.search.config import SearchParams
from trade_pipeline.search.objective import ObjectiveContext
from trade_pipeline.search.session import objective_context

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
    """The split and the teacher outputs a search reads: a confident, always-right fake teacher."""
    data = DataParams.model_validate({"n_mini_train": 300})
    split = make_split(data, load_source(data))
    logits = {part: {"indices": split.indices(part), "logits": (5.0 * np.eye(10)[split.labels(part)]).astype(np.float16)}
              for part in ("mini_train", "mini_val")}
    teacher_logits = {"teacher": "fake", "num_classes": 10, "split_fingerprint": split.fingerprint, **logits}
    teacher_profile = {"fake": {"params": 1e6, "macs": 1e8, "latency_ms": 5.0, "device": "cpu"}}
    return split, teacher_profile, teacher_logits


def tiny_context(search: dict[str, Any]) -> tuple[ObjectiveContext, SearchParams, dict[str, str]]:
    """``run_search``'s arguments: the objective context, the parameters and the resume fingerprint."""
    params = SearchParams.model_validate(search)
    split, teacher_profile, teacher_logits = tiny_inputs()
    context = objective_context(split, teacher_profile, teacher_logits, params)
    return context, params, search_fingerprint(params, "fake", split.fingerprint)


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
