"""Teachers from training, local checkpoints and the timm hub (the hub itself is never contacted)."""
from __future__ import annotations

import pytest
import safetensors.torch
import timm
import torch

from trade_pipeline.config import ConfigError
from trade_pipeline.data.loaders import make_loader
from trade_pipeline.models import build_model
from trade_pipeline.serialization import CorruptFileError, UnsafeFileError
from trade_pipeline.teachers import sources
from trade_pipeline.teachers.config import TeacherPipelineParams
from trade_pipeline.teachers.profile import PROFILE_METRICS, profile_metrics, profile_teacher
from trade_pipeline.teachers.sources import TeacherError, check_teachers, prepare_teachers
from trade_pipeline.training.engine import TrainResult
from trade_pipeline.training.evaluation import evaluate

from .conftest import TINY_CNN, TINY_TRAIN, teacher_params


def _params(**teachers) -> TeacherPipelineParams:
    return TeacherPipelineParams.model_validate(teacher_params(teachers))


def _train(digits_split, seed: int = 0):
    params = _params(cnn={"source": "train", **TINY_CNN, "train": {**TINY_TRAIN, "seed": seed}})
    return prepare_teachers(params, digits_split)["cnn"], params


def test_train_source_gives_a_trained_teacher_whose_profile_has_the_documented_keys(digits_split):
    teacher, params = _train(digits_split)
    assert teacher.model_spec["in_chans"] == 1 and teacher.model_spec["num_classes"] == 10
    profile = profile_teacher(teacher.model, digits_split, params.profile, batch_size=64)
    assert set(PROFILE_METRICS) | {"device", "latency_method"} == set(profile) and profile["device"] == "cpu"
    assert profile["params"] > 0 and profile["macs"] > 0 and profile["latency_ms"] > 0
    assert 0.0 <= profile["mini_val_top1"] <= profile["mini_val_top5"] <= 100.0
    top1, _ = evaluate(teacher.model, make_loader(digits_split, "mini_val", 64))
    assert profile["mini_val_top1"] == pytest.approx(top1)  # the profile evaluates the same model
    metrics = profile_metrics({"cnn": profile})
    assert metrics["cnn.test_top1"] == {"value": profile["test_top1"], "step": 0} and len(metrics) == len(PROFILE_METRICS)


def test_teacher_training_is_deterministic_for_a_seed(digits_split):
    first, second = _train(digits_split)[0], _train(digits_split)[0]
    third = _train(digits_split, seed=1)[0]
    first_state, second_state = first.model.state_dict(), second.model.state_dict()
    assert all(torch.equal(first_state[key], second_state[key]) for key in first_state)
    assert not torch.equal(first_state["fc.weight"], third.model.state_dict()["fc.weight"])


def test_a_teacher_that_fails_to_train_raises_naming_it_and_the_reason(digits_split, monkeypatch):
    failed = TrainResult(status="failed", reason="non-finite training loss (nan) in epoch 1")
    monkeypatch.setattr(sources, "train_model", lambda *args, **kwargs: failed)
    params = _params(cnn={"source": "train", **TINY_CNN, "train": TINY_TRAIN})
    with pytest.raises(TeacherError, match=r"teacher 'cnn' \(resnet10t\) failed to train: non-finite"):
        prepare_teachers(params, digits_split)


def _saved_model(digits_split, num_classes: int = 10) -> torch.nn.Module:
    spec = sources.teacher_model_spec("t", _params(t={"source": "train", **TINY_CNN}).teachers["t"], digits_split)
    torch.manual_seed(3)
    return build_model({**spec, "num_classes": num_classes}).eval()


def _checkpoint_teacher(digits_split, path):
    params = _params(cnn={"source": "checkpoint", **TINY_CNN, "path": str(path)})
    return prepare_teachers(params, digits_split)["cnn"]


@pytest.mark.parametrize("suffix", [".safetensors", ".pt"])
def test_local_checkpoint_loads_and_predicts_exactly_like_the_saved_model(digits_split, tmp_path, suffix):
    model = _saved_model(digits_split)
    path = tmp_path / f"teacher{suffix}"
    if suffix == ".pt":
        torch.save(model.state_dict(), path)
    else:
        safetensors.torch.save_file(model.state_dict(), str(path))
    teacher = _checkpoint_teacher(digits_split, path)
    images = torch.randn(4, 1, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(teacher.model.eval()(images), model(images), rtol=0, atol=0)


def test_a_truncated_checkpoint_is_refused_naming_the_file_and_the_setting(digits_split, tmp_path):
    path = tmp_path / "teacher.safetensors"
    safetensors.torch.save_file(_saved_model(digits_split).state_dict(), str(path))
    path.write_bytes(path.read_bytes()[:-200])  # a copy that stopped early
    with pytest.raises(CorruptFileError, match=r"teacher\.teachers\.cnn\.path: '.*teacher\.safetensors' is truncated"):
        _checkpoint_teacher(digits_split, path)
    torch.save(_saved_model(digits_split).state_dict(), tmp_path / "teacher.pt")
    (tmp_path / "cut.pt").write_bytes((tmp_path / "teacher.pt").read_bytes()[:300])
    with pytest.raises(CorruptFileError, match=r"teacher\.teachers\.cnn\.path: '.*cut\.pt' is truncated or corrupt"):
        _checkpoint_teacher(digits_split, tmp_path / "cut.pt")


def test_a_pickled_whole_module_checkpoint_is_refused(digits_split, tmp_path):
    path = tmp_path / "module.pt"
    torch.save(_saved_model(digits_split), path)  # pickles the class, i.e. arbitrary code
    with pytest.raises(UnsafeFileError, match=r"teacher\.teachers\.cnn\.path: .*refused"):
        _checkpoint_teacher(digits_split, path)


def test_a_checkpoint_for_other_classes_names_the_tensors_and_what_the_dataset_needs(digits_split, tmp_path):
    path = tmp_path / "five_classes.safetensors"
    safetensors.torch.save_file(_saved_model(digits_split, num_classes=5).state_dict(), str(path))
    with pytest.raises(TeacherError, match=r"needs in_chans=1, num_classes=10.*fc\.weight \[5, 8\] \(needs \[10, 8\]\)"):
        _checkpoint_teacher(digits_split, path)


def test_a_checkpoint_of_another_architecture_says_to_set_model(digits_split, tmp_path):
    path = tmp_path / "other.safetensors"
    safetensors.torch.save_file({"weight": torch.zeros(3)}, str(path))
    with pytest.raises(TeacherError, match=r"not a 'resnet10t' state_dict .*unexpected weight.*teachers\.cnn\.model"):
        _checkpoint_teacher(digits_split, path)


def test_a_missing_checkpoint_is_refused_with_the_parameters(tmp_path):
    with pytest.raises(ConfigError, match=r"teacher\.teachers\.cnn: checkpoint .*nowhere\.pt' does not exist"):
        _params(first={"source": "train", **TINY_CNN},
                cnn={"source": "checkpoint", **TINY_CNN, "path": str(tmp_path / "nowhere.pt")})


def test_unknown_timm_name_lists_close_matches():
    with pytest.raises(ConfigError, match=r"teacher\.teachers\.t\.model: timm has no model .*close matches: resnet18"):
        _params(t={"source": "train", "model": "resnet_18"})


def test_hub_teacher_whose_head_does_not_fit_the_classes_says_to_fine_tune(digits_split):
    params = _params(t={"source": "timm", "model": "resnet18", "pretrained": True})
    with pytest.raises(ConfigError, match=r"predicts 1000 classes but the dataset has 10; use source: train"):
        check_teachers(params, digits_split)


def test_hub_teacher_is_created_by_timm_with_pretrained_weights_at_the_split_size(digits_split, monkeypatch):
    calls = []

    def fake_create_model(name, pretrained, **kwargs):  # stands in for the download
        calls.append({"name": name, "pretrained": pretrained, **kwargs})
        return torch.nn.Linear(1, 1)

    monkeypatch.setattr(timm, "create_model", fake_create_model)
    params = _params(vit={"source": "timm", "model": "vit_tiny_patch16_224", "pretrained": True,
                          "model_kwargs": {"patch_size": 4}})
    spec = sources.teacher_model_spec("vit", params.teachers["vit"], digits_split)
    teacher = sources.obtain_teacher("vit", params.teachers["vit"], spec, digits_split, params)
    assert calls == [{"name": "vit_tiny_patch16_224", "pretrained": True, "in_chans": 1, "num_classes": 10,
                      "img_size": 8, "patch_size": 4}]
    assert teacher.model_spec == spec
