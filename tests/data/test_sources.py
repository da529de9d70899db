"""On-disk sources: CIFAR in torchvision's format and ImageFolder trees, and their bad inputs."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from trade_pipeline.data.config import DataParams
from trade_pipeline.data.sources import DataError, load_source
from trade_pipeline.data.split import make_split


def _params(**values) -> DataParams:
    return DataParams.model_validate(values)


def test_cifar_split_uses_the_test_pool_for_test_and_carves_mini_val_from_train(cifar_root):
    params = _params(dataset="cifar10", root=str(cifar_root), n_test=None, n_mini_val=20)
    source = load_source(params)
    split = make_split(params, source)
    assert (source.channels, source.native_size, len(source.classes)) == (3, 32, 10)
    assert len(split.test) == 20 and len(split.mini_val) == 20 and len(split.mini_train) == 40
    assert (split.pool("test"), split.pool("mini_val"), split.pool("mini_train")) == ("test", "train", "train")
    assert np.bincount(split.labels("mini_val"), minlength=10).tolist() == [2] * 10


def test_cifar_without_files_says_how_to_fix_it(tmp_path):
    with pytest.raises(DataError, match="data.download=true"):
        load_source(_params(dataset="cifar100", root=str(tmp_path / "nowhere")))


def test_image_folder_uses_val_as_test_and_train_for_mini_val(image_folder):
    params = _params(dataset="imagefolder", root=str(image_folder), n_test=None, n_mini_val=6)
    source = load_source(params)
    split = make_split(params, source)
    assert source.classes == ("n0000", "n0001", "n0002")
    assert len(split.test) == 6 and len(split.mini_val) == 6 and len(split.mini_train) == 18
    assert split.image_size == 224 and split.channels == 3


@pytest.mark.parametrize("missing", ["train", "val"])
def test_image_folder_without_a_pool_is_refused(tmp_path, make_image_folder, missing):
    import shutil

    root = make_image_folder(tmp_path / f"tree_{missing}")
    shutil.rmtree(root / missing)
    with pytest.raises(DataError, match=f"'{missing}' is missing|{missing}.*missing"):
        load_source(_params(dataset="imagefolder", root=str(root)))


def test_image_folder_with_no_images_is_refused(tmp_path):
    for pool in ("train", "val"):
        (tmp_path / "empty" / pool / "n0000").mkdir(parents=True)
    with pytest.raises(DataError, match="Found 0 images"):
        load_source(_params(dataset="imagefolder", root=str(tmp_path / "empty")))


def test_image_folder_with_a_corrupt_file_names_it(tmp_path, make_image_folder):
    root = make_image_folder(tmp_path / "broken")
    (root / "train" / "n0001" / "3.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really a png")
    with pytest.raises(DataError, match=r"n0001/3\.png"):
        load_source(_params(dataset="imagefolder", root=str(root)))


def test_missing_root_folder_is_named(tmp_path: Path):
    with pytest.raises(DataError, match="data.root"):
        load_source(_params(dataset="imagefolder", root=str(tmp_path / "absent")))
