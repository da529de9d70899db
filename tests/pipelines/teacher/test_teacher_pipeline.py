"""A real KedroSession run of ``data`` + ``teacher`` (env=test, tracking off) in a throwaway project copy."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from kedro.validation import ParameterValidationError

from trade_pipeline.data.split import Split
from trade_pipeline.serialization import load_array_dict, load_model_artifact
from trade_pipeline.teachers.profile import PROFILE_METRICS


def _latest(folder: Path) -> Path:
    (version,) = folder.iterdir()
    return version / folder.name


def test_data_and_teacher_pipelines_write_the_four_documented_datasets(project, run):
    run(project, ["data", "teacher"])
    data = project / "data"
    split = Split.from_dict(load_array_dict(_latest(data / "05_model_input" / "split.npz")))
    names = ["tiny_cnn", "tiny_vit"]  # conf/test/parameters_teacher.yml, in configured order

    profile = json.loads(_latest(data / "08_reporting" / "teacher_profile.json").read_text())
    assert list(profile) == names
    for entry in profile.values():
        assert set(PROFILE_METRICS) | {"device", "source", "model"} <= set(entry)
        assert 0 <= entry["test_top1"] <= entry["test_top5"] <= 100 and entry["params"] > 0
    assert profile["tiny_cnn"]["model"] == "resnet10t" and profile["tiny_cnn"]["source"] == "train"

    logits = load_array_dict(_latest(data / "07_model_output" / "teacher_logits.npz"))
    assert (logits["teacher"], logits["num_classes"], logits["split_fingerprint"]) == ("tiny_cnn", 10, split.fingerprint)
    for part in ("mini_train", "mini_val"):
        np.testing.assert_array_equal(logits[part]["indices"], split.indices(part))
        assert logits[part]["logits"].dtype == np.float16 and logits[part]["logits"].shape == (len(split.indices(part)), 10)

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


def test_unknown_search_teacher_stops_the_run_before_any_teacher_is_built(project, run):
    with pytest.raises(ParameterValidationError, match=r"teacher\.search_teacher"):
        run(project, ["data", "teacher"], {"teacher": {"search_teacher": "resnet152"}})
    assert not (project / "data" / "06_models" / "teachers").exists()
