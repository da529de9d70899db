"""Training-time augmentation of whole batches, on the batch's device.

In-memory data (the embedded digits, CIFAR, a decoded cache) is batched by slicing, so its
augmentation works on ``B x C x H x W`` tensors: a per-sample random-resized crop and flip as
one affine resampling (``affine_grid`` + ``grid_sample``, the same crop distribution as timm's
``RandomResizedCrop``), then cutout (DeVries & Taylor 2017). On-disk trees get the same settings
through timm's PIL transforms (``loaders``). Randomness comes from the augmenter's own
generator, so a checkpoint can save it and a resumed run draws the same crops.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from typing import Literal

from pydantic import Field, model_validator

from trade_pipeline.config import StrictModel


class Augmentation(StrictModel):
    """What a training batch goes through; the defaults change nothing.

    ``scale``/``ratio``: area share and aspect-ratio range of a random crop resized back to the
    input (timm's ``RandomResizedCrop``; ``[1, 1]`` = no crop). ``hflip``: probability of a
    horizontal flip (never for digits). ``cutout``: probability of zeroing one square of side
    ``cutout_size`` (a share of the image side) at a uniform centre, which may lie partly outside.
    ``auto_augment`` (a timm policy such as ``rand-m9-mstd0.5``) and ``re_prob`` / ``re_mode``
    (random erasing) go to timm's ``create_transform`` and so apply to image trees read from
    disk only: they work on single PIL images and tensors, not on in-memory batches.
    """

    scale: tuple[float, float] = (1.0, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    hflip: float = Field(default=0.0, ge=0, le=1)
    cutout: float = Field(default=0.0, ge=0, le=1)
    cutout_size: float = Field(default=0.5, gt=0, le=1)
    auto_augment: str | None = None
    re_prob: float = Field(default=0.0, ge=0, le=1)
    re_mode: Literal["pixel", "const", "rand"] = "pixel"

    @model_validator(mode="after")
    def _ranges(self) -> Augmentation:
        if not 0 < self.scale[0] <= self.scale[1] <= 1:
            raise ValueError(f"scale must be [low, high] with 0 < low <= high <= 1, got {list(self.scale)}")
        if not 0 < self.ratio[0] <= self.ratio[1]:
            raise ValueError(f"ratio must be [low, high] with 0 < low <= high, got {list(self.ratio)}")
        if self.auto_augment is not None:
            from timm.data.auto_augment import auto_augment_transform, rand_augment_transform

            try:
                (rand_augment_transform if self.auto_augment.startswith("rand") else auto_augment_transform)(
                    self.auto_augment, {})
            except (AssertionError, KeyError, ValueError) as error:
                raise ValueError(f"auto_augment {self.auto_augment!r} is not a timm policy (e.g. rand-m9-mstd0.5, "
                                 f"v0): {error}") from error
        return self

    @property
    def active(self) -> bool:
        return self.scale != (1.0, 1.0) or self.hflip > 0 or self.cutout > 0 or self.on_images_only

    @property
    def on_images_only(self) -> bool:
        """Whether it asks for what only timm's per-image transforms do (RandAugment, erasing)."""
        return self.auto_augment is not None or self.re_prob > 0


class BatchAugmenter:
    """Applies an ``Augmentation`` to normalised batches, sample by sample, on their device."""

    def __init__(self, settings: Augmentation, seed: int = 0) -> None:
        self.settings = settings
        self.generator = torch.Generator().manual_seed(seed)  # CPU: its draws do not depend on the device

    def _uniform(self, n: int, low: float, high: float) -> torch.Tensor:
        return low + (high - low) * torch.rand(n, generator=self.generator, dtype=torch.float64)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """``B x C x H x W`` -> the same shape, augmented."""
        settings = self.settings
        if settings.scale != (1.0, 1.0) or settings.hflip > 0:
            images = self._crop_and_flip(images)
        if settings.cutout > 0:
            images = self._cutout(images)
        return images

    def _crop_and_flip(self, images: torch.Tensor) -> torch.Tensor:
        batch = len(images)
        area = self._uniform(batch, *self.settings.scale)
        log_ratio = self._uniform(batch, *(math.log(r) for r in self.settings.ratio))
        width = (area * log_ratio.exp()).sqrt().clamp(max=1.0)  # crop sides as shares of the image side
        height = (area / log_ratio.exp()).sqrt().clamp(max=1.0)
        centre_x = (2 * torch.rand(batch, generator=self.generator, dtype=torch.float64) - 1) * (1 - width)
        centre_y = (2 * torch.rand(batch, generator=self.generator, dtype=torch.float64) - 1) * (1 - height)
        flip = torch.where(torch.rand(batch, generator=self.generator) < self.settings.hflip, -1.0, 1.0)
        theta = torch.zeros(batch, 2, 3, dtype=torch.float64)
        theta[:, 0, 0], theta[:, 0, 2] = width * flip, centre_x
        theta[:, 1, 1], theta[:, 1, 2] = height, centre_y
        grid = F.affine_grid(theta.to(images.device, images.dtype), list(images.shape), align_corners=False)
        return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)

    def _cutout(self, images: torch.Tensor) -> torch.Tensor:
        batch, _, height, width = images.shape
        erase = torch.rand(batch, generator=self.generator) < self.settings.cutout
        side = self.settings.cutout_size
        centre_y, centre_x = torch.rand(batch, generator=self.generator), torch.rand(batch, generator=self.generator)
        rows = (torch.arange(height) + 0.5) / height
        columns = (torch.arange(width) + 0.5) / width
        inside_y = (rows[None, :] - centre_y[:, None]).abs() < side / 2  # B x H
        inside_x = (columns[None, :] - centre_x[:, None]).abs() < side / 2  # B x W
        mask = (inside_y[:, :, None] & inside_x[:, None, :] & erase[:, None, None]).to(images.device)
        return images.masked_fill(mask[:, None], 0.0)  # 0 = the dataset mean after normalisation
