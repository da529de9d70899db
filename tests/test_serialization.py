"""Safe artefacts: array dicts and models round trip; pickles are refused; writes are atomic."""
from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from kedro.io.core import DatasetError

from trade_pipeline.datasets import ArrayDictDataset, SafeModelDataset
from trade_pipeline.models import ModelArtifact, build_model, timm_model_spec
from trade_pipeline.serialization import (
    CorruptFileError,
    UnsafeFileError,
    atomic_path,
    load_array_dict,
    load_model_artifact,
    load_state_dict_file,
    save_array_dict,
)


def test_array_dict_round_trips_nested_arrays_and_metadata(tmp_path):
    data = {"test": np.arange(5, dtype=np.int64), "meta": {"logits": np.ones((2, 3), np.float16), "name": "t"},
            "classes": ["a", "b"], "size": 28}
    save_array_dict(tmp_path / "d.npz", data)
    loaded = load_array_dict(tmp_path / "d.npz")
    np.testing.assert_array_equal(loaded["test"], data["test"])
    assert loaded["meta"]["logits"].dtype == np.float16 and loaded["meta"]["name"] == "t"
    assert loaded["classes"] == ["a", "b"] and loaded["size"] == 28


def test_a_failed_write_leaves_the_previous_file_intact(tmp_path):
    target = tmp_path / "keep.txt"
    target.write_text("good")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as temp:
            temp.write_text("half")
            raise RuntimeError("crash mid-write")
    assert target.read_text() == "good"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def _tiny_artifact() -> ModelArtifact:
    spec = timm_model_spec("resnet10t", in_chans=1, num_classes=10, img_size=28)
    torch.manual_seed(0)
    return ModelArtifact(model_spec=spec, model=build_model(spec).eval())


def test_safe_model_dataset_round_trip_rebuilds_an_identical_model(tmp_path):
    artifact = _tiny_artifact()
    dataset = SafeModelDataset(filepath=str(tmp_path / "teacher.safetensors"))
    dataset.save(artifact)
    loaded = dataset.load()
    x = torch.randn(2, 1, 28, 28)
    assert loaded.model_spec == artifact.model_spec
    torch.testing.assert_close(loaded.model.eval()(x), artifact.model(x), rtol=0, atol=0)


def test_versioned_array_dataset_keeps_every_version(tmp_path):
    from kedro.io import Version

    for value in (1, 2):  # explicit save versions: two saves within one millisecond would share a timestamp
        ArrayDictDataset(filepath=str(tmp_path / "split.npz"),
                         version=Version(None, f"2026-01-01T00.00.00.00{value}Z")).save({"x": np.array([value])})
    assert len(list((tmp_path / "split.npz").iterdir())) == 2
    assert ArrayDictDataset(filepath=str(tmp_path / "split.npz"), version=Version(None, None)).load()["x"][0] == 2


def test_a_pickled_model_file_is_refused(tmp_path):
    artifact = _tiny_artifact()
    path = tmp_path / "model.safetensors"
    torch.save(artifact.model, path)  # a whole pickled module, not a state_dict
    with pytest.raises(UnsafeFileError, match="never unpickled"):
        load_model_artifact(path)
    with pytest.raises(DatasetError, match="never unpickled"):
        SafeModelDataset(filepath=str(path)).load()
    with pytest.raises(UnsafeFileError, match="never unpickled"):
        load_state_dict_file(path)


def test_a_plain_pickle_with_code_is_refused_by_checkpoint_loading(tmp_path):
    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps({"weight": np.zeros(2)}))
    with pytest.raises(UnsafeFileError):
        load_state_dict_file(path)


def test_weights_only_and_safetensors_checkpoints_load(tmp_path):
    from safetensors.torch import save_file

    state = {"weight": torch.arange(6.0).view(2, 3)}
    torch.save({"state_dict": state}, tmp_path / "ckpt.pt")
    save_file(state, str(tmp_path / "ckpt.safetensors"))
    for name in ("ckpt.pt", "ckpt.safetensors"):
        torch.testing.assert_close(load_state_dict_file(tmp_path / name)["weight"], state["weight"])
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        load_state_dict_file(tmp_path / "missing.pt")


def test_truncated_artefacts_name_the_file_and_what_to_do(tmp_path):
    save_array_dict(tmp_path / "split.npz", {"test": np.arange(1000)})
    save_model_artifact_path = tmp_path / "model.safetensors"
    SafeModelDataset(filepath=str(save_model_artifact_path)).save(_tiny_artifact())
    for path in (tmp_path / "split.npz", save_model_artifact_path):
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CorruptFileError, match=r"split\.npz' is truncated or corrupt .*rerun the pipeline"):
        load_array_dict(tmp_path / "split.npz")
    with pytest.raises(CorruptFileError, match=r"model\.safetensors' is truncated or corrupt .*rerun the pipeline"):
        load_model_artifact(save_model_artifact_path)


def test_a_dataset_never_saved_does_not_exist_but_an_unreadable_one_is_an_error(tmp_path, monkeypatch):
    from kedro.io.core import Version

    dataset = ArrayDictDataset(filepath=str(tmp_path / "split.npz"), version=Version(None, None))
    assert dataset.exists() is False

    def unreadable(self):
        raise PermissionError("no permission to list the versions folder")

    monkeypatch.setattr(ArrayDictDataset, "_get_load_path", unreadable)
    with pytest.raises(DatasetError, match="no permission"):
        dataset.exists()
