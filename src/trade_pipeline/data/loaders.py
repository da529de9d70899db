"""Turns a split into batches ``(images, labels, indices)`` for training and evaluation.

Small sets (embedded, CIFAR) stay in memory as uint8 tensors and are batched by slicing,
which on a 2-core CPU is several times faster than per-item collation; ImageFolder trees go
through timm's transforms and a DataLoader. ``indices`` are source indices, so cached teacher
logits can be looked up per batch.
"""
from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from trade_pipeline.data.sources import Source
from trade_pipeline.data.split import Split

Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


class InMemoryLoader:
    """Batches uint8 images held in memory; reshuffles each epoch from its own seeded generator."""

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        indices: np.ndarray,
        mean: Sequence[float],
        std: Sequence[float],
        image_size: int,
        batch_size: int,
        shuffle: bool,
        seed: int = 0,
    ) -> None:
        self.images = torch.from_numpy(np.ascontiguousarray(images[indices]))
        self.labels = torch.from_numpy(np.asarray(labels[indices], dtype=np.int64))
        self.indices = torch.from_numpy(np.asarray(indices, dtype=np.int64))
        self.mean = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1) * 255.0
        self.std = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1) * 255.0
        self.image_size = image_size
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return (len(self.indices) + self.batch_size - 1) // self.batch_size

    def __iter__(self) -> Iterator[Batch]:
        order = torch.randperm(len(self.indices), generator=self.generator) if self.shuffle else None
        for start in range(0, len(self.indices), self.batch_size):
            rows = order[start:start + self.batch_size] if order is not None else slice(start, start + self.batch_size)
            images = (self.images[rows].float() - self.mean) / self.std
            if images.shape[-1] != self.image_size:
                images = F.interpolate(images, size=(self.image_size, self.image_size), mode="bilinear",
                                       align_corners=False)
            yield images, self.labels[rows], self.indices[rows]


class IndexedSubset(Dataset):
    """A subset of an image dataset that also returns each sample's source index."""

    def __init__(self, dataset: Any, indices: np.ndarray) -> None:
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, position: int) -> tuple[Any, int, int]:
        index = int(self.indices[position])
        image, label = self.dataset[index]
        return image, label, index


def make_loader(
    split: Split,
    part: str,
    batch_size: int,
    shuffle: bool = False,
    seed: int = 0,
    num_workers: int = 0,
    image_size: int | None = None,
    indices: np.ndarray | None = None,
) -> InMemoryLoader | DataLoader:
    """Loader over one part of a split (``test``, ``mini_val``, ``mini_train``, ``train``), or
    over ``indices``, a subset of that part's pool (e.g. the search's proxy subset)."""
    source = split.open_source()
    pool = split.pool(part)
    size = image_size or split.image_size
    indices = np.asarray(split.indices(part) if indices is None else indices, dtype=np.int64)
    if source.in_memory:
        return InMemoryLoader(source.images[pool], source.labels[pool], indices, split.mean, split.std,
                              size, batch_size, shuffle, seed)
    return _folder_loader(source, pool, indices, split, size, batch_size, shuffle, seed, num_workers)


def _folder_loader(source: Source, pool: str, indices: np.ndarray, split: Split, size: int,
                   batch_size: int, shuffle: bool, seed: int, num_workers: int) -> DataLoader:
    from timm.data import create_transform

    dataset = copy.copy(source.image_datasets[pool])  # loaders of one pool may differ in size
    dataset.transform = create_transform(size, is_training=False, mean=split.mean, std=split.std)
    return DataLoader(
        IndexedSubset(dataset, indices),
        batch_size=batch_size,
        shuffle=shuffle,
        num_workers=num_workers,
        generator=torch.Generator().manual_seed(seed),
        pin_memory=torch.cuda.is_available(),
        persistent_workers=num_workers > 0,
    )
