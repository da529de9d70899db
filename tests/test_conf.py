"""Every shipped environment's parameters validate as written (conf/paper's CUDA settings on a
machine that reports a GPU, and on one that has none: refused by name)."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import torch
from kedro.config import OmegaConfigLoader

from trade_pipeline.config import ConfigError
from trade_pipeline.parameters_doc import sections
from trade_pipeline.settings import CONFIG_LOADER_ARGS

CONF = Path(__file__).resolve().parents[1] / "conf"


def _parameters(env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    for folder in ("cifar-10-batches-py", "cifar-100-python"):  # conf/paper's transfer targets
        (tmp_path / "data" / "01_raw" / "cifar" / folder).mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    loader = OmegaConfigLoader(str(CONF), env=env, **{k: v for k, v in CONFIG_LOADER_ARGS.items()
                                                       if k != "default_run_env"})
    return loader["parameters"]


@pytest.mark.parametrize("env", ["base", "test", "paper"])
def test_every_environment_validates_as_written(env, tmp_path, monkeypatch):
    parameters = _parameters(env, tmp_path, monkeypatch)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # conf/paper is for GPU machines
    for section in sections():
        section.model_validate(parameters[section.section])


def test_the_paper_environment_on_a_machine_without_cuda_is_refused_naming_the_device(tmp_path, monkeypatch):
    parameters = _parameters("paper", tmp_path, monkeypatch)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    search = next(section for section in sections() if section.section == "search")
    with pytest.raises(ValueError, match="'cuda' but CUDA is not available on this machine; use cpu"):
        search.model_validate(parameters["search"])


@pytest.mark.parametrize("key", ["data.seed", "search.seed", "search.proxy.seed", "retrain.seeds"])
def test_a_negative_seed_is_refused_at_start_up_naming_its_key(key, tmp_path, monkeypatch):
    """A negative seed used to pass validation and fail minutes later inside scikit-learn."""
    parameters = _parameters("base", tmp_path, monkeypatch)
    section, *path = key.split(".")
    target = parameters[section]
    for part in path[:-1]:
        target = target.setdefault(part, {})
    target[path[-1]] = [0, -1] if key == "retrain.seeds" else -1
    model = next(candidate for candidate in sections() if candidate.section == section)
    with pytest.raises(ConfigError, match=rf"{re.escape(key)}[.0-9]*: Input should be greater than or equal to 0"):
        model.model_validate(parameters[section])


def _merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``override``'s values, nested blocks merged key by key (as Kedro's --params)."""
    merged = dict(base)
    for key, value in override.items():
        merged[key] = _merged(base.get(key, {}), value) if isinstance(value, dict) else value
    return merged


@pytest.mark.parametrize(
    ("section", "override", "key"),
    [
        ("search", {"strategy": "bayes"}, "search.strategy"),
        ("search", {"executor": "ray"}, "search.executor"),
        ("search", {"batch_size": 0}, "search.batch_size"),
        ("search", {"proxy": {"epochs": -1}}, "search.proxy.epochs"),
        ("search", {"proxy": {"lr": 0}}, "search.proxy.lr"),
        ("search", {"proxy": {"data_fraction": 2}}, "search.proxy.data_fraction"),
        ("search", {"budget": {"max_s": -1}}, "search.budget.max_s"),
        ("search", {"score": {"epsilon": 0}}, "search.score.epsilon"),
        ("search", {"profile": {"repeats": 0}}, "search.profile.repeats"),
        ("data", {"n_mini_val": 0}, "data.n_mini_val"),
        ("teacher", {"batch_size": 0}, "teacher.batch_size"),
        ("teacher", {"device": "tpu"}, "teacher.device"),
    ],
)
def test_a_bad_value_in_conf_base_is_refused_naming_its_key(section, override, key, tmp_path, monkeypatch):
    """Each block's own checks, without a Kedro session (tests/pipelines/test_startup_checks.py
    runs one per kind through Kedro)."""
    parameters = _parameters("base", tmp_path, monkeypatch)
    model = next(candidate for candidate in sections() if candidate.section == section)
    with pytest.raises((ConfigError, ValueError), match=re.escape(key)):
        model.model_validate(_merged(parameters[section], override))
