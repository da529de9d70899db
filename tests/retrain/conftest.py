"""A tiny retrain setup: 8x8 digits, an untrained tiny teacher with its logit cache, tiny students."""
from __future__ import annotations

from typing import Any

import pytest
import torch

from trade_pipeline.data.config import DataParams
from trade_pipeline.data.sources import load_source
from trade_pipeline.data.split import Split, make_split
from trade_pipeline.models import ModelArtifact, build_model, timm_model_spec
from trade_pipeline.retrain.config import RetrainParams
from trade_pipeline.retrain.jobs import RetrainContext
from trade_pipeline.teachers.logits import logit_cache

# One searched student of the embedded space's kind, as selected_architectures lists it.
STUDENT = {
    "block_sequence": "FMB-MB",
    "spec": {"stem_width": 4, "stem_stride": 1, "transformer": None, "blocks": [
        {"block_type": "fused_mbconv", "layers": 1, "kernel_size": 3, "expansion_ratio": 2.0, "se_ratio": 0.0,
         "skip": "identity", "width": 8, "stride": 2},
        {"block_type": "mbconv", "layers": 1, "kernel_size": 3, "expansion_ratio": 2.0, "se_ratio": 0.25,
         "skip": "identity", "width": 8, "stride": 1}]},
}
SUMMARY = {"teacher": "tiny", "acc_target": 20.0, "best_proxy_accuracy": 40.0}


@pytest.fixture(scope="session")
def digits() -> Split:
    data = DataParams(dataset="digits", n_test=100, n_mini_val=100, n_mini_train=240)
    return make_split(data, load_source(data))


@pytest.fixture(scope="session")
def teacher(digits) -> tuple[ModelArtifact, dict[str, Any]]:
    torch.manual_seed(0)
    spec = timm_model_spec("resnet10t", 1, 10, 8, channels=[8, 8, 8, 8], stem_width=8)
    artifact = ModelArtifact(spec, build_model(spec).eval())
    return artifact, logit_cache("tiny", artifact.model, digits, batch_size=128)


def retrain_params(tmp_path, **overrides: Any) -> RetrainParams:
    settings = {"checkpoint_dir": str(tmp_path / "checkpoints"), "recipe": {"epochs": 2, "warmup_epochs": 0.5,
                "batch_size": 40}, "profile": {"warmup": 0, "repeats": 1}, "eval_batch_size": 100, **overrides}
    return RetrainParams.model_validate(settings)


@pytest.fixture
def context(digits, teacher, tmp_path):
    def make(**overrides: Any) -> RetrainContext:
        return RetrainContext(digits, teacher[0], teacher[1], retrain_params(tmp_path, **overrides))
    return make
