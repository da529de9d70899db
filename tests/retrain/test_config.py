"""``retrain`` parameters: each bad value stops the run at start-up with its key named."""
from __future__ import annotations

import pytest

from trade_pipeline.config import ConfigError
from trade_pipeline.retrain.config import RetrainParams


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"baselines": [{"name": "mnv3", "model": "mobilenetv3_smal_050"}]},
         r"retrain\.baselines\.0\.model: timm has no model 'mobilenetv3_smal_050'; close matches: mobilenetv3_small_050"),
        ({"baselines": [{"name": "trade_x", "model": "resnet18"}]}, r"retrain\.baselines\.0\.name: .*'trade_x'"),
        ({"baselines": [{"name": "r", "model": "resnet18"}, {"name": "r", "model": "resnet10t"}]},
         r"retrain\.baselines: .*names must differ"),
        ({"trained_by": ["distill", "distill"]}, r"retrain\.trained_by: .*list each value once"),
        ({"trained_by": ["soft"]}, r"retrain\.trained_by\.0: Input should be 'hard_label' or 'distill'"),
        ({"seeds": []}, r"retrain\.seeds: .*at least 1 item"),
        ({"recipe": {"kd_alpha": 0}}, r"retrain\.recipe\.kd_alpha: .*hard_label runs set 0 themselves"),
        ({"recipe": {"epochs": 0}}, r"retrain\.recipe\.epochs"),
        ({"ddp": {"nproc": 2}, "executor": "dask"}, r"retrain: .*executor: local"),
        ({"ddp": {"nproc": 2, "devices": ["cpu"]}}, r"retrain\.ddp: devices lists 1 devices for nproc=2"),
        ({"students": 0}, r"retrain\.students"),
    ],
)
def test_bad_retrain_settings_are_named(settings, message):
    with pytest.raises(ConfigError, match=message):
        RetrainParams.model_validate(settings)
