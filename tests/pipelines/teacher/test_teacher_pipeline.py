"""A real KedroSession run of ``data`` + ``teacher`` (env=test, tracking off) in a throwaway project copy."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from trade_pipeline.config import ConfigError
from trade_pipeline.serialization import load_array_dict, load_model_artifact
from trade_pipeline.teachers.profile import PROFILE_METRICS

PROJECT = Path(__file__).resolve().parents[3]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """pyproject + conf copied to a temp dir so runs write there, never into the checkout."""
    shutil.copy(PROJECT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(PROJECT / "conf", tmp_path / "conf", ignore=shutil.ignore_patterns("local"))
    (tmp_path / "conf" / "local").mkdir()
    (tmp_path / "src").mkdir()  # the package itself is imported from the installed checkout
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.chdir(tmp_path)
    bootstrap_project(tmp_path)
    return tmp_path


def _run(project: Path, params: dict | None = None) -> None:
    with KedroSession.create(project_path=project, env="test", runtime_params=params) as session:
        session.run(pipeline_names=["data", "teacher"])


def _latest(folder: Path) -> Path:
    (version,) = folder.iterdir()
    return version / folder.name


def test_data_and_teacher_pipelines_write_the_four_documented_datasets(project):
    _run(project)
    data = project / "data"
    split = load_array_dict(_latest(data / "05_model_input" / "split.npz"))
    names = ["tiny_cnn", "tiny_vit"]  # conf/test/parameters_teacher.yml, in configured order

    profile = json.loads(_latest(data / "08_reporting" / "teacher_profile.json").read_text())
    assert list(profile) == names
    for entry in profile.values():
        assert set(PROFILE_METRICS) | {"device", "source", "model"} <= set(entry)
        assert 0 <= entry["test_top1"] <= entry["test_top5"] <= 100 and entry["params"] > 0
    assert profile["tiny_cnn"]["model"] == "resnet10t" and profile["tiny_cnn"]["source"] == "train"

    logits = load_array_dict(_latest(data / "07_model_output" / "teacher_logits.npz"))
    assert (logits["teacher"], logits["num_classes"], logits["split_fingerprint"]) == ("tiny_cnn", 10, split["fingerprint"])
    for part in ("mini_train", "mini_val"):
        np.testing.assert_array_equal(logits[part]["indices"], split[part])
        assert logits[part]["logits"].dtype == np.float16 and logits[part]["logits"].shape == (len(split[part]), 10)

    similarity = json.loads(_latest(data / "08_reporting" / "teacher_similarity.json").read_text())
    assert similarity["teachers"] == names
    for part in ("train", "test"):
        np.testing.assert_allclose(np.diag(similarity[part]["top1_match"]), 1.0)
        np.testing.assert_allclose(np.diag(similarity[part]["kl"]), 0.0, atol=1e-9)
        assert np.asarray(similarity[part]["kl"]).shape == (2, 2)
    assert (data / "08_reporting" / "teacher_similarity.png").stat().st_size > 0

    saved = {path.stem: load_model_artifact(path) for path in (data / "06_models" / "teachers").glob("*.safetensors")}
    assert set(saved) == set(names) and saved["tiny_vit"].model_spec["name"] == "vit_tiny_patch16_224"
    search_teacher = load_model_artifact(_latest(data / "06_models" / "teacher_model.safetensors"))
    assert search_teacher.model_spec == saved["tiny_cnn"].model_spec


def test_unknown_search_teacher_stops_the_run_before_any_teacher_is_built(project):
    with pytest.raises(ConfigError, match=r"teacher\.search_teacher"):
        _run(project, {"teacher": {"search_teacher": "resnet152"}})
    assert not (project / "data" / "06_models" / "teachers").exists()
