"""Deterministic, stratified splits into test / mini-val / mini-train (+ the proxy subset).

Paper §D.1 reserves a mini-val from the training images and trains candidates on the rest
(mini-train); Table 3 trains the proxy task on a fraction of mini-train. A split stores
indices into the source's pools plus what a loader needs (classes, size, normalisation).
"""
from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
from sklearn.model_selection import train_test_split

from trade_pipeline.data.config import DataParams
from trade_pipeline.data.sources import DataError, Source

PARTS = ("test", "mini_val", "mini_train", "proxy_train")


def make_split(params: DataParams, source: Source) -> dict[str, Any]:
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
    proxy_train = _fraction(mini_train, train_labels, params.proxy_fraction, rng_seed + 3)
    image_size = params.image_size or source.native_size
    mean, std = _normalisation(source, mini_train)
    split = {
        "test": np.sort(test),
        "mini_val": np.sort(mini_val),
        "mini_train": np.sort(mini_train),
        "proxy_train": np.sort(proxy_train),
        "classes": list(source.classes),
        "image_size": int(image_size),
        "channels": int(source.channels),
        "mean": mean,
        "std": std,
        "source": {
            "dataset": params.dataset,
            "root": params.root,
            "pools": {"test": source.test_pool, "mini_val": source.train_pool,
                      "mini_train": source.train_pool, "proxy_train": source.train_pool},
            "seed": params.seed,
            "proxy_fraction": params.proxy_fraction,
        },
    }
    split["fingerprint"] = split_fingerprint(split)
    return split


def with_proxy_fraction(split: dict[str, Any], labels: np.ndarray, fraction: float, seed: int) -> dict[str, Any]:
    """A copy of ``split`` whose ``proxy_train`` is a stratified ``fraction`` of mini-train."""
    proxy_train = np.sort(_fraction(np.asarray(split["mini_train"]), labels, fraction, seed))
    return {**split, "proxy_train": proxy_train}


def split_fingerprint(split: dict[str, Any]) -> str:
    """Hash of the index arrays: caches computed on a split record it to detect staleness."""
    digest = hashlib.sha256()
    for part in PARTS:
        digest.update(part.encode())
        digest.update(np.asarray(split[part], dtype=np.int64).tobytes())
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


def _fraction(pool: np.ndarray, labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    count = max(1, int(round(fraction * len(pool))))
    if count >= len(pool):
        return pool
    return _take(pool, labels, count, seed, "data.proxy_fraction")[0]


def _can_stratify(labels: np.ndarray, count: int) -> bool:
    counts = np.bincount(labels)
    counts = counts[counts > 0]
    return counts.min() >= 2 and count >= len(counts) and len(labels) - count >= len(counts)


def _normalisation(source: Source, mini_train: np.ndarray) -> tuple[list[float], list[float]]:
    """Per-channel mean/std of mini-train pixels (ImageNet's constants for on-disk trees)."""
    if not source.in_memory:
        from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD

        return list(IMAGENET_DEFAULT_MEAN), list(IMAGENET_DEFAULT_STD)
    pixels = source.images[source.train_pool][mini_train].astype(np.float64) / 255.0
    mean = pixels.mean(axis=(0, 2, 3))
    std = pixels.std(axis=(0, 2, 3))
    return [round(float(m), 6) for m in mean], [round(float(max(s, 1e-6)), 6) for s in std]
