"""Deterministic, stratified splits into test / mini-val / mini-train, as a typed :class:`Split`.

Paper §D.1 reserves a mini-val from the training images and trains candidates on the rest
(mini-train). A split stores indices into the source's pools plus what a loader needs
(classes, size, normalisation), never copies of the images.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from sklearn.model_selection import train_test_split

from trade_pipeline.data.config import DataParams
from trade_pipeline.data.sources import DataError, Source, load_source

Part = Literal["test", "mini_val", "mini_train", "train"]
"""A part of a split; ``train`` is mini-train + mini-val, the full training data of the retrain (§4)."""
PARTS: tuple[Part, ...] = ("test", "mini_val", "mini_train")
TRAIN: Part = "train"


@dataclass(frozen=True)
class SplitSource:
    """The dataset a split indexes: enough to re-open it, and which pool each part draws from."""

    dataset: str
    root: str | None
    test_pool: str
    train_pool: str
    seed: int


@dataclass(frozen=True, eq=False)
class Split:
    """Indices of each part into the source's pools, and the images' shape and normalisation.

    ``fingerprint`` hashes the index arrays; caches computed on a split (teacher logits)
    record it so a stale cache is detected.
    """

    test: np.ndarray
    mini_val: np.ndarray
    mini_train: np.ndarray
    classes: tuple[str, ...]
    image_size: int
    channels: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    source: SplitSource
    fingerprint: str

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def input_shape(self, batch: int = 1) -> tuple[int, int, int, int]:
        return (batch, self.channels, self.image_size, self.image_size)

    def indices(self, part: Part) -> np.ndarray:
        """Source indices (int64) of ``test``, ``mini_val``, ``mini_train`` or ``train`` (the last two)."""
        if part == TRAIN:
            return np.sort(np.concatenate([self.mini_train, self.mini_val]))
        if part not in PARTS:
            raise ValueError(f"unknown split part {part!r}; expected one of {', '.join((*PARTS, TRAIN))}")
        return getattr(self, part)

    def pool(self, part: Part) -> str:
        """The source pool a part's indices point into."""
        return self.source.test_pool if part == "test" else self.source.train_pool

    def open_source(self) -> Source:
        """Re-opens the source this split was made from (cached, so cheap to call per pipeline)."""
        return load_source(DataParams(dataset=self.source.dataset, root=self.source.root, n_test=1,
                                      verify_images="none"))

    def labels(self, part: Part) -> np.ndarray:
        """Class ids of a part's images, in the order of ``indices(part)``."""
        return self.open_source().labels[self.pool(part)][self.indices(part)]

    def to_dict(self) -> dict[str, Any]:
        """What the ``.npz`` dataset stores: arrays plus JSON metadata."""
        return {
            **{part: getattr(self, part) for part in PARTS},
            "classes": list(self.classes),
            "image_size": self.image_size,
            "channels": self.channels,
            "mean": list(self.mean),
            "std": list(self.std),
            "source": {"dataset": self.source.dataset, "root": self.source.root, "seed": self.source.seed,
                       "pools": {"test": self.source.test_pool, "mini_train": self.source.train_pool}},
            "fingerprint": self.fingerprint,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Split:
        """Inverse of ``to_dict``; also reads splits saved before the proxy subset moved to the
        search (their ``proxy_train`` part and stored fingerprint are kept compatible)."""
        source = data["source"]
        return cls(
            **{part: np.asarray(data[part], dtype=np.int64) for part in PARTS},
            classes=tuple(data["classes"]),
            image_size=int(data["image_size"]),
            channels=int(data["channels"]),
            mean=tuple(data["mean"]),
            std=tuple(data["std"]),
            source=SplitSource(dataset=source["dataset"], root=source["root"], seed=source["seed"],
                               test_pool=source["pools"]["test"], train_pool=source["pools"]["mini_train"]),
            fingerprint=data["fingerprint"],
        )


def make_split(params: DataParams, source: Source) -> Split:
    """Splits ``source`` as ``params`` asks; equal params give identical indices."""
    rng_seed = params.seed
    test_labels = source.labels[source.test_pool]
    train_labels = source.labels[source.train_pool]
    if source.test_pool == source.train_pool:
        test, train_pool = _take(np.arange(len(train_labels)), train_labels, params.n_test, rng_seed, "data.n_test")
    else:
        test = _subset(np.arange(len(test_labels)), test_labels, params.n_test, rng_seed, "data.n_test")
        train_pool = np.arange(len(train_labels))
    mini_val, rest = _take(train_pool, train_labels, params.n_mini_val, rng_seed + 1, "data.n_mini_val")
    mini_train = _subset(rest, train_labels, params.n_mini_train, rng_seed + 2, "data.n_mini_train")
    parts = {"test": np.sort(test), "mini_val": np.sort(mini_val), "mini_train": np.sort(mini_train)}
    mean, std = _normalisation(source, mini_train)
    return Split(
        **parts,
        classes=tuple(source.classes),
        image_size=int(params.image_size or source.native_size),
        channels=int(source.channels),
        mean=mean,
        std=std,
        source=SplitSource(dataset=params.dataset, root=params.root, test_pool=source.test_pool,
                           train_pool=source.train_pool, seed=params.seed),
        fingerprint=_fingerprint(parts),
    )


def stratified_fraction(split: Split, part: Part, fraction: float, seed: int) -> np.ndarray:
    """A stratified ``fraction`` of a part's indices (sorted); the whole part at 1.0."""
    pool = split.indices(part)
    count = max(1, int(round(fraction * len(pool))))
    if count >= len(pool):
        return pool
    labels = split.open_source().labels[split.pool(part)]
    return np.sort(_take(pool, labels, count, seed, "search.proxy.data_fraction")[0])


def _fingerprint(parts: dict[str, np.ndarray]) -> str:
    digest = hashlib.sha256()
    for part in PARTS:
        digest.update(part.encode())
        digest.update(np.asarray(parts[part], dtype=np.int64).tobytes())
    return digest.hexdigest()[:16]


def _take(pool: np.ndarray, labels: np.ndarray, count: int, seed: int, key: str) -> tuple[np.ndarray, np.ndarray]:
    """Removes ``count`` stratified indices from ``pool``; returns (taken, remaining)."""
    if count >= len(pool):
        raise DataError(
            f"{key}={count} asks for at least as many images as are available ({len(pool)}); "
            "lower it so that images remain for training."
        )
    stratify = labels[pool] if _can_stratify(labels[pool], count) else None
    remaining, taken = train_test_split(pool, test_size=count, random_state=seed, stratify=stratify)
    return taken, remaining


def _subset(pool: np.ndarray, labels: np.ndarray, count: int | None, seed: int, key: str) -> np.ndarray:
    """A stratified subset of ``count`` indices, or the whole pool when ``count`` is None."""
    if count is None or count == len(pool):
        return pool
    if count > len(pool):
        raise DataError(f"{key}={count} is more than the {len(pool)} images available; lower it.")
    return _take(pool, labels, count, seed, key)[0]


def _can_stratify(labels: np.ndarray, count: int) -> bool:
    counts = np.bincount(labels)
    counts = counts[counts > 0]
    return counts.min() >= 2 and count >= len(counts) and len(labels) - count >= len(counts)


def _normalisation(source: Source, mini_train: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean/std of mini-train pixels (ImageNet's constants for on-disk trees)."""
    if not source.in_memory:
        from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD

        return tuple(IMAGENET_DEFAULT_MEAN), tuple(IMAGENET_DEFAULT_STD)
    pixels = source.images[source.train_pool][mini_train].astype(np.float64) / 255.0
    mean = pixels.mean(axis=(0, 2, 3))
    std = pixels.std(axis=(0, 2, 3))
    return tuple(round(float(m), 6) for m in mean), tuple(round(float(max(s, 1e-6)), 6) for s in std)
