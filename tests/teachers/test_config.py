"""``teacher`` parameters are validated before any compute, naming the bad key."""
from __future__ import annotations

from pathlib import Path

import pytest
import timm
import yaml

from trade_pipeline.config import ConfigError
from trade_pipeline.teachers.config import TeacherPipelineParams

from .conftest import TINY_CNN, teacher_params

CONF = Path(__file__).resolve().parents[2] / "conf"


def _parse(params: dict) -> TeacherPipelineParams:
    return TeacherPipelineParams.model_validate(params)


def _conf(env: str) -> dict:
    return yaml.safe_load((CONF / env / "parameters_teacher.yml").read_text())["teacher"]


def test_search_teacher_that_is_not_configured_is_a_config_error_naming_the_key():
    params = teacher_params({"cnn": {"source": "train", **TINY_CNN}}, search_teacher="vit")
    with pytest.raises(ConfigError, match=r"teacher\.search_teacher: .*'vit' is not a teacher in use.*cnn"):
        _parse(params)


@pytest.mark.parametrize(
    ("teacher", "message"),
    [
        ({"source": "hub", "model": "resnet18"}, r"teachers\.t\.source: Input should be 'train', 'timm' or 'checkpoint'"),
        ({"source": "checkpoint", "model": "resnet18"}, r"teachers\.t: .*needs path"),
        ({"source": "timm", "model": "resnet18"}, r"teachers\.t: .*set pretrained: true"),
        ({"source": "train", "model": "resnet18", "path": "x.pt"}, r"teachers\.t: .*path is only read by source 'checkpoint'"),
        ({"source": "train", "model": "resnet18", "train": {"optimizer": "adamx"}}, r"teachers\.t\.train\.optimizer: unknown optimizer"),
        ({"source": "train", "model": "resnet18", "train": {"epochs": 1, "warmup_epochs": 1}}, r"warmup_epochs .* shorter"),
        ({"source": "train", "model": "resnet18", "epochs": 3}, r"teachers\.t\.epochs: unknown key"),
    ],
)
def test_a_bad_teacher_entry_is_a_config_error_naming_its_key(teacher, message):
    with pytest.raises(ConfigError, match=message):
        _parse(teacher_params({"t": teacher}))


def test_use_must_name_defined_teachers_and_decides_the_order():
    teachers = {"a": {"source": "train", **TINY_CNN}, "b": {"source": "train", **TINY_CNN}}
    with pytest.raises(ConfigError, match=r"teacher\.use: .*'c' is not defined"):
        _parse(teacher_params(teachers, use=["c"]))
    with pytest.raises(ConfigError, match=r"teacher\.search_teacher: .*'a' is not a teacher in use"):
        _parse(teacher_params(teachers, search_teacher="a", use=["b"]))
    assert list(_parse(teacher_params(teachers, use=["b", "a"])).selected) == ["b", "a"]


def test_teacher_names_must_be_usable_as_file_names():
    with pytest.raises(ConfigError, match=r"teacher\.teachers: .*'my/teacher'"):
        _parse(teacher_params({"my/teacher": {"source": "train", **TINY_CNN}}))


def test_base_config_is_valid_and_paper_config_names_the_table_4_hub_teachers():
    assert list(_parse(_conf("base")).selected) == ["resnet", "efficientnetv2", "vit"]
    paper = {**_conf("paper"), "device": "cpu", "profile": {"device": "cpu"}}  # CUDA is checked where it runs
    selected = _parse({**paper, "teachers": {**_conf("base")["teachers"], **paper["teachers"]}}).selected
    assert [t.model for t in selected.values()] == [
        "tf_efficientnetv2_m", "regnety_080", "vit_large_patch16_224", "vit_large_r50_s32_224"]
    for teacher in selected.values():
        assert teacher.source == "timm" and teacher.pretrained
        assert timm.models.get_pretrained_cfg(teacher.model).num_classes == 1000
