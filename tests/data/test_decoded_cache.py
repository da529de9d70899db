"""The decoded-image cache holds exactly timm's eval pixels, serves the same batches as the folder
loader, is reused, and refuses to serve another split."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from trade_pipeline.data import decoded_cache
from trade_pipeline.data.augment import Augmentation
from trade_pipeline.data.config import DataParams
from trade_pipeline.data.decoded_cache import StaleCacheError, cache_path, open_decoded
from trade_pipeline.data.loaders import InMemoryLoader, LoaderSettings, make_loader
from trade_pipeline.data.sources import load_source
from trade_pipeline.data.split import make_split
from trade_pipeline.serialization import CorruptFileError

SIZE = 16


@pytest.fixture
def folder_split(image_folder):
    params = DataParams.model_validate({"dataset": "imagefolder", "root": str(image_folder), "n_test": None,
                                        "n_mini_val": 6, "image_size": SIZE})
    return make_split(params, load_source(params))


@pytest.fixture
def cache_dir(tmp_path):
    return tmp_path / "decoded"


def test_cached_pixels_are_timm_eval_transform_pixels(folder_split, cache_dir) -> None:
    from timm.data import create_transform

    indices = folder_split.indices("mini_train")
    cached = open_decoded(folder_split, "mini_train", indices, SIZE, cache_dir)
    assert cached.images.shape == (len(indices), 3, SIZE, SIZE) and cached.images.dtype == np.uint8
    dataset = folder_split.open_source().image_datasets["train"]
    to_float = create_transform(SIZE, is_training=False, mean=(0, 0, 0), std=(1, 1, 1))  # ToTensor = uint8 / 255
    for row, index in enumerate(indices):
        expected = to_float(_image(dataset, index)) * 255
        np.testing.assert_allclose(cached.images[row], expected.numpy(), atol=1e-4)


def _image(dataset, index):
    from PIL import Image

    path, _ = dataset.reader.samples[index]
    return Image.open(path).convert("RGB")


def test_cache_loader_serves_the_folder_loaders_batches(folder_split, cache_dir) -> None:
    plain = make_loader(folder_split, "test", batch_size=4, settings=LoaderSettings(num_workers=0))
    cached = make_loader(folder_split, "test", batch_size=4,
                         settings=LoaderSettings(num_workers=0, decoded_cache=str(cache_dir)))
    assert isinstance(cached, InMemoryLoader) and len(cached) == len(plain)
    for (images, labels, indices), (want_images, want_labels, want_indices) in zip(cached, plain):
        torch.testing.assert_close(images, want_images, atol=1e-5, rtol=0)
        assert torch.equal(labels, want_labels) and torch.equal(indices, want_indices)


def test_cache_is_decoded_once_per_subset_and_then_reused(folder_split, cache_dir, monkeypatch) -> None:
    settings = LoaderSettings(num_workers=0, decoded_cache=str(cache_dir))
    subset = folder_split.indices("mini_train")[::2]
    first = [b[2] for b in make_loader(folder_split, "mini_train", 5, shuffle=True, seed=3, indices=subset,
                                       settings=settings)]
    path = cache_path(cache_dir, "mini_train", SIZE, subset)
    assert json.loads(path.with_suffix(".json").read_text())["split_fingerprint"] == folder_split.fingerprint

    monkeypatch.setattr(decoded_cache, "_decode", lambda *args: pytest.fail("decoded twice"))
    again = [b[2] for b in make_loader(folder_split, "mini_train", 5, shuffle=True, seed=3, indices=subset,
                                       settings=settings)]
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert sorted(torch.cat(again).tolist()) == subset.tolist()
    assert sorted(p.name for p in cache_dir.iterdir()) == [path.with_suffix(".json").name, path.name]  # no temp left


def test_augmented_batches_from_the_cache_keep_their_shape(folder_split, cache_dir) -> None:
    settings = LoaderSettings(num_workers=0, decoded_cache=str(cache_dir))
    loader = make_loader(folder_split, "mini_train", 4, shuffle=True, augment=Augmentation(scale=(0.5, 1.0), hflip=0.5),
                         settings=settings)
    images, _, _ = next(iter(loader))
    assert images.shape == (4, 3, SIZE, SIZE) and images.dtype == torch.float32


def test_a_cache_of_another_split_is_refused_and_kept(folder_split, cache_dir) -> None:
    indices = folder_split.indices("test")
    cached = open_decoded(folder_split, "test", indices, SIZE, cache_dir)
    other = dataclasses.replace(folder_split, fingerprint="0123456789abcdef")
    with pytest.raises(StaleCacheError, match=rf"'{cached.path}'.*split_fingerprint.*0123456789abcdef"):
        open_decoded(other, "test", indices, SIZE, cache_dir)
    assert open_decoded(folder_split, "test", indices, SIZE, cache_dir).images.shape[0] == len(indices)


def test_an_interrupted_build_decodes_again_and_a_truncated_cache_is_named(folder_split, cache_dir) -> None:
    indices = folder_split.indices("test")
    path = open_decoded(folder_split, "test", indices, SIZE, cache_dir).path
    path.unlink()  # as if killed after the sidecar, before the rename
    assert open_decoded(folder_split, "test", indices, SIZE, cache_dir).images.shape[0] == len(indices)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(CorruptFileError, match=str(path)):
        open_decoded(folder_split, "test", indices, SIZE, cache_dir)


def test_randaugment_and_erasing_come_from_timms_transform_on_image_trees_only(folder_split, cache_dir) -> None:
    """conf/paper's EdgeTPU augmentation: timm's RandAugment and random erasing, per image in the
    workers; in-memory batches refuse them by name instead of silently skipping them."""
    from timm.data.auto_augment import RandAugment
    from timm.data.random_erasing import RandomErasing

    from trade_pipeline.errors import InputError

    augment = Augmentation(scale=(0.08, 1.0), hflip=0.5, auto_augment="rand-m9-mstd0.5", re_prob=0.2)
    loader = make_loader(folder_split, "mini_train", batch_size=4, shuffle=True, augment=augment,
                         settings=LoaderSettings(num_workers=0))
    steps = list(loader.loader.dataset.dataset.transform.transforms)
    assert any(isinstance(step, RandAugment) for step in steps)
    erasing = next(step for step in steps if isinstance(step, RandomErasing))
    assert erasing.probability == 0.2 and erasing.mode == "pixel"
    images, _, _ = next(iter(loader))
    assert images.shape == (4, 3, SIZE, SIZE)
    with pytest.raises(InputError, match="auto_augment / re_prob.*decoded_cache"):
        make_loader(folder_split, "mini_train", batch_size=4, augment=augment,
                    settings=LoaderSettings(num_workers=0, decoded_cache=str(cache_dir)))
