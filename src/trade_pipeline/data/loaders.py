"""Turns a split into batches ``(images, labels, indices)`` for training and evaluation.

Small sets (embedded, CIFAR) stay in memory as uint8 tensors and are batched by slicing,
which on a 2-core CPU is several times faster than per-item collation; ImageFolder trees go
through timm's transforms in DataLoader workers, or, with ``LoaderSettings.decoded_cache``,
are decoded once into a memory-mapped uint8 array that is sliced the same way
(``decoded_cache``; docs/gpu.md says when to use which). ``indices`` are source
indices, so cached teacher logits can be looked up per batch. Both loaders can hand their
random state to a checkpoint (``state_dict``), so a resumed training run sees the same batches.
"""
from __future__ import annotations

import copy
import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field
from torch.utils.data import DataLoader, Dataset

from trade_pipeline.config import StrictModel
from trade_pipeline.data.augment import Augmentation, BatchAugmenter
from trade_pipeline.data.decoded_cache import open_decoded
from trade_pipeline.data.split import Part, Split
from trade_pipeline.errors import InputError

Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


class LoaderSettings(StrictModel):
    """Workers and host memory of on-disk loaders (in-memory data needs none: it is sliced).

    ``num_workers=None`` uses every core but one (at most 16); ``pin_memory=None`` pins when
    CUDA is there, so host-to-device copies can run asynchronously. ``decoded_cache`` is a
    folder: on-disk images are decoded there once per split part and resolution and then read
    from memory (it needs ``N x C x H x W`` bytes of disk per part); ``None`` decodes every pass.
    """

    num_workers: int | None = Field(default=None, ge=0)
    pin_memory: bool | None = None
    persistent_workers: bool = True
    prefetch_factor: int = Field(default=4, ge=1)
    decoded_cache: str | None = None

    def workers(self) -> int:
        return self.num_workers if self.num_workers is not None else max(0, min(16, (os.cpu_count() or 1) - 1))

    def pinned(self) -> bool:
        return self.pin_memory if self.pin_memory is not None else torch.cuda.is_available()


class InMemoryLoader:
    """Batches uint8 images held in memory; reshuffles each epoch from its own seeded generator.

    ``images`` (``N x C x H x W`` uint8, row ``i`` = source index ``indices[i]``) may be a memory
    map: it is never copied whole. A batch is gathered on the host (into pinned memory on CUDA,
    so the copy is asynchronous), copied to ``device`` still as uint8 (a quarter of the bytes of
    float32), then normalised, resized and augmented there.
    """

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
        device: str | torch.device = "cpu",
        augment: Augmentation | None = None,
        shard: tuple[int, int] = (0, 1),
    ) -> None:
        self.device = torch.device(device)
        self.shard = shard
        self.images = torch.from_numpy(images)
        self.labels = torch.from_numpy(np.asarray(labels, dtype=np.int64))
        self.indices = torch.from_numpy(np.asarray(indices, dtype=np.int64))
        self.mean = torch.tensor(mean, dtype=torch.float32, device=self.device).view(1, -1, 1, 1) * 255.0
        self.std = torch.tensor(std, dtype=torch.float32, device=self.device).view(1, -1, 1, 1) * 255.0
        self.image_size = image_size
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.generator = torch.Generator().manual_seed(seed)
        self.augmenter = BatchAugmenter(augment, seed + 1) if augment is not None and augment.active else None

    def __len__(self) -> int:
        return (len(self.indices) + self.batch_size - 1) // self.batch_size

    def __iter__(self) -> Iterator[Batch]:
        order = torch.randperm(len(self.indices), generator=self.generator) if self.shuffle else None
        for start in range(0, len(self.indices), self.batch_size):
            rows = order[start:start + self.batch_size] if order is not None else torch.arange(
                start, min(start + self.batch_size, len(self.indices)))
            rows = rows[self.shard[0]::self.shard[1]]  # this process's share of the global batch (DDP)
            images = self.images[rows]
            if self.device.type == "cuda":
                images = images.pin_memory()  # a gathered batch is pageable, whatever its source
            images = images.to(self.device, non_blocking=True).float().sub_(self.mean).div_(self.std)
            if images.shape[-1] != self.image_size:
                images = F.interpolate(images, size=(self.image_size, self.image_size), mode="bilinear",
                                       align_corners=False)
            if self.augmenter is not None:
                images = self.augmenter(images)
            yield images, self.labels[rows].to(self.device, non_blocking=True), self.indices[rows]

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The random state a resumed run needs to draw the same next epochs."""
        state = {"shuffle": self.generator.get_state()}
        if self.augmenter is not None:
            state["augment"] = self.augmenter.generator.get_state()
        return state

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.generator.set_state(state["shuffle"])
        if self.augmenter is not None:
            self.augmenter.generator.set_state(state["augment"])


class FolderLoader:
    """timm's transforms in DataLoader workers for image trees; batches land on ``device``.

    Crop and flip happen per image in the workers (timm's ``RandomResizedCrop``); cutout, if
    asked, on the batch. Under DDP each process keeps its share of every global batch.
    """

    def __init__(self, loader: DataLoader, device: str | torch.device, augment: Augmentation | None,
                 seed: int, shard: tuple[int, int] = (0, 1)) -> None:
        self.loader = loader
        self.device = torch.device(device)
        self.shard = shard
        cutout = augment is not None and augment.cutout > 0
        self.augmenter = BatchAugmenter(Augmentation(cutout=augment.cutout, cutout_size=augment.cutout_size),
                                        seed + 1) if cutout else None

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[Batch]:
        rank, world_size = self.shard
        for images, labels, indices in self.loader:
            images, labels, indices = images[rank::world_size], labels[rank::world_size], indices[rank::world_size]
            images = images.to(self.device, non_blocking=True)
            if self.augmenter is not None:
                images = self.augmenter(images)
            yield images, labels.to(self.device, non_blocking=True), indices

    def state_dict(self) -> dict[str, torch.Tensor]:
        state = {"shuffle": self.loader.generator.get_state()}
        if self.augmenter is not None:
            state["augment"] = self.augmenter.generator.get_state()
        return state

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.loader.generator.set_state(state["shuffle"])
        if self.augmenter is not None:
            self.augmenter.generator.set_state(state["augment"])


Loader = InMemoryLoader | FolderLoader


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
    part: Part,
    batch_size: int,
    shuffle: bool = False,
    seed: int = 0,
    image_size: int | None = None,
    indices: np.ndarray | None = None,
    augment: Augmentation | None = None,
    device: str | torch.device = "cpu",
    settings: LoaderSettings | None = None,
    shard: tuple[int, int] = (0, 1),
) -> Loader:
    """Loader over one part of a split (``test``, ``mini_val``, ``mini_train``, ``train``), or
    over ``indices``, a subset of that part's pool (e.g. the search's proxy subset).

    ``augment`` is for training loaders; batches arrive on ``device``. ``shard=(rank, world_size)``
    keeps one DDP process's share of every batch. An on-disk source is read through
    ``settings.decoded_cache`` when that folder is set.
    """
    source = split.open_source()
    pool = split.pool(part)
    size = image_size or split.image_size
    settings = settings or LoaderSettings()
    indices = np.asarray(split.indices(part) if indices is None else indices, dtype=np.int64)
    if (source.in_memory or settings.decoded_cache is not None) and augment is not None and augment.on_images_only:
        raise InputError(f"augment.auto_augment / re_prob run in timm's per-image transforms, on image trees read "
                         f"from disk; {split.source.dataset} is served as in-memory batches (set them to null / 0, "
                         "or train from the folder without data.loader.decoded_cache)")
    if source.in_memory:
        images = source.images[pool][indices]
    elif settings.decoded_cache is not None:
        images = open_decoded(split, part, indices, size, settings.decoded_cache, settings.workers()).images
    else:
        return FolderLoader(_folder_loader(source.image_datasets[pool], indices, split, size, batch_size, shuffle,
                                           seed, augment, settings), device, augment, seed, shard)
    return InMemoryLoader(images, source.labels[pool][indices], indices, split.mean, split.std, size, batch_size,
                          shuffle, seed, device, augment, shard)


def _folder_loader(dataset: Any, indices: np.ndarray, split: Split, size: int, batch_size: int, shuffle: bool,
                   seed: int, augment: Augmentation | None, settings: LoaderSettings) -> DataLoader:
    from timm.data import create_transform

    dataset = copy.copy(dataset)  # loaders of one pool may differ in size and transform
    training = augment is not None and augment.active
    options = dict(scale=augment.scale, ratio=augment.ratio, hflip=augment.hflip, color_jitter=0.0,
                   auto_augment=augment.auto_augment, re_prob=augment.re_prob, re_mode=augment.re_mode,
                   ) if training else {}
    dataset.transform = create_transform(size, is_training=training, mean=split.mean, std=split.std, **options)
    workers = settings.workers()
    return DataLoader(
        IndexedSubset(dataset, indices),
        batch_size=batch_size,
        shuffle=shuffle,
        num_workers=workers,
        generator=torch.Generator().manual_seed(seed),
        pin_memory=settings.pinned(),
        persistent_workers=settings.persistent_workers and workers > 0,
        prefetch_factor=settings.prefetch_factor if workers > 0 else None,
    )
