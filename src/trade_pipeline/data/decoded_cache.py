"""Decoded-image cache: images of an on-disk tree decoded once into a uint8 memory map.

The proxy task reads the same images 9 times per candidate, for 50 candidates; decoding and
resizing JPEGs in DataLoader workers every time then costs more than training on a fast GPU.
Here a part of a split (or a subset of it) is decoded once with timm's eval
transform (resize + centre crop, before normalisation) into an ``N x C x H x W`` uint8
``.npy``; later passes read it at memory speed through ``loaders.InMemoryLoader``, which
normalises and augments batches on their device. See docs/gpu.md for when to use it.

A cache belongs to one split: a JSON sidecar records the split fingerprint, the source, the
resolution and a hash of the indices, and a cache made for anything else is refused, never
reused or overwritten. Both files are written to temp names and renamed into place.
"""
from __future__ import annotations

import copy
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib.format import open_memmap
from torch.utils.data import DataLoader, Subset

from trade_pipeline.data.split import Part, Split
from trade_pipeline.errors import InputError
from trade_pipeline.serialization import CorruptFileError, atomic_path, reading, save_json

logger = logging.getLogger(__name__)
FORMAT = 1
DECODE_BATCH = 64


class StaleCacheError(InputError):
    """A decoded-image cache that was made for another split, source or resolution."""


@dataclass(frozen=True)
class DecodedImages:
    """A cache opened for reading: row ``i`` of ``images`` is the source image ``indices[i]``.

    ``images`` is a copy-on-write memory map (``N x C x H x W`` uint8): the operating system's
    page cache holds it, so processes that open the same file share one copy in memory.
    """

    path: Path
    images: np.ndarray
    indices: np.ndarray


def cache_path(folder: str | Path, part: Part, image_size: int, indices: np.ndarray) -> Path:
    """``<folder>/<part>-<size>px-<hash of the indices>.npy``: each subset of a part has its own file."""
    return Path(folder) / f"{part}-{image_size}px-{_indices_hash(indices)[:12]}.npy"


def open_decoded(split: Split, part: Part, indices: np.ndarray, image_size: int, folder: str | Path,
                 workers: int = 0) -> DecodedImages:
    """The cache of ``indices`` (source indices into ``part``'s pool) at ``image_size``, decoding
    them first (with ``workers`` DataLoader workers) if no cache exists yet.

    Raises ``StaleCacheError`` when the file at that place was made for another split or source.
    """
    indices = np.asarray(indices, dtype=np.int64)
    path = cache_path(folder, part, image_size, indices)
    identity = _identity(split, part, indices, image_size)
    if not path.exists():
        _decode(path, identity, split, part, indices, image_size, workers)
    return DecodedImages(path, _load(path, identity), indices)


def _indices_hash(indices: np.ndarray) -> str:
    return hashlib.sha256(np.asarray(indices, dtype=np.int64).tobytes()).hexdigest()


def _sidecar(path: Path) -> Path:
    return path.with_suffix(".json")


def _identity(split: Split, part: Part, indices: np.ndarray, image_size: int) -> dict[str, Any]:
    """What the cached pixels depend on, as stored in the sidecar."""
    return {
        "format": FORMAT,
        "split_fingerprint": split.fingerprint,
        "dataset": split.source.dataset,
        "root": split.source.root,
        "pool": split.pool(part),
        "image_size": image_size,
        "shape": [len(indices), split.channels, image_size, image_size],
        "indices_sha256": _indices_hash(indices),
        "transform": "timm eval (resize, centre crop), uint8 before normalisation",
    }


def _decode(path: Path, identity: dict[str, Any], split: Split, part: Part, indices: np.ndarray,
            image_size: int, workers: int) -> None:
    """Decodes every image into a temp ``.npy`` renamed into place; the sidecar goes first, so an
    interrupted build leaves no ``.npy`` and the next run decodes again."""
    from timm.data import create_transform

    shape = tuple(identity["shape"])
    logger.info("Decoding %d images of %s at %dpx into '%s' (%.2f GB), once.", shape[0], part, image_size, path,
                np.prod(shape) / 1e9)
    dataset = copy.copy(split.open_source().image_datasets[split.pool(part)])
    dataset.transform = create_transform(image_size, is_training=False, use_prefetcher=True)  # uint8 C x H x W
    batches = DataLoader(Subset(dataset, indices.tolist()), batch_size=DECODE_BATCH, num_workers=workers)
    save_json(_sidecar(path), identity)
    with atomic_path(path) as temp:
        images = open_memmap(temp, mode="w+", dtype=np.uint8, shape=shape)
        start = 0
        for batch, _labels in batches:
            images[start:start + len(batch)] = batch.numpy()
            start += len(batch)
        images.flush()
        del images  # unmapped before the rename


def _load(path: Path, identity: dict[str, Any]) -> np.ndarray:
    remedy = f"delete '{path}' and '{_sidecar(path).name}' beside it to decode the images again"
    if not _sidecar(path).exists():
        raise CorruptFileError(f"decoded-image cache '{path}' has no '{_sidecar(path).name}' beside it; {remedy}")
    with reading(_sidecar(path), remedy):
        stored = json.loads(_sidecar(path).read_text(encoding="utf-8"))
    different = [f"{key} {stored.get(key)!r} (wanted {value!r})" for key, value in identity.items()
                 if stored.get(key) != value]
    if different:
        raise StaleCacheError(
            f"decoded-image cache '{path}' was made for other data: {'; '.join(different)}. It is kept as it is; "
            f"{remedy}, or set the loader's decoded_cache to another folder."
        )
    with reading(path, remedy):
        images = np.load(path, mmap_mode="c", allow_pickle=False)
        if images.dtype != np.uint8 or list(images.shape) != identity["shape"]:
            raise ValueError(f"holds {images.dtype} {list(images.shape)}, expected uint8 {identity['shape']}")
    return images
