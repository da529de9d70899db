"""Every shipped environment's parameters validate (conf/paper with CUDA swapped for the CPU)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kedro.config import OmegaConfigLoader

from trade_pipeline.parameters_doc import sections
from trade_pipeline.settings import CONFIG_LOADER_ARGS

CONF = Path(__file__).resolve().parents[1] / "conf"


def _on_cpu(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _on_cpu(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_on_cpu(item) for item in value]
    return "cpu" if isinstance(value, str) and value.startswith("cuda") else value


@pytest.mark.parametrize("env", ["base", "test", "paper"])
def test_every_environment_validates(env, tmp_path, monkeypatch):
    for folder in ("cifar-10-batches-py", "cifar-100-python"):  # conf/paper's transfer targets
        (tmp_path / "data" / "01_raw" / "cifar" / folder).mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    loader = OmegaConfigLoader(str(CONF), env=env, **{k: v for k, v in CONFIG_LOADER_ARGS.items()
                                                       if k != "default_run_env"})
    parameters = _on_cpu(loader["parameters"])
    for section in sections():
        section.model_validate(parameters[section.section])
