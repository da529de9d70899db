"""The ``data`` parameters (conf/<env>/parameters_data.yml), validated before any work."""
from __future__ import annotations

from typing import Literal, Union

from pydantic import Field, model_validator

from trade_pipeline.config import Section, Seed

DatasetName = Literal["embedded_mnist", "digits", "cifar10", "cifar100", "imagefolder"]
EMBEDDED_DATASETS = ("embedded_mnist", "digits")


class DataParams(Section):
    """Which images to use and how to split them (paper §D.1: mini-train / mini-val / test)."""

    section = "data"
    moved_keys = {"proxy_fraction": "search.proxy.data_fraction"}

    dataset: DatasetName = "embedded_mnist"
    root: Union[str, None] = None
    download: bool = False
    seed: Seed = 42
    n_test: Union[int, None] = Field(default=1000, ge=1)
    n_mini_val: int = Field(default=1000, ge=1)
    n_mini_train: Union[int, None] = Field(default=None, ge=1)
    image_size: Union[int, None] = Field(default=None, ge=4, le=1024)
    verify_images: Union[Literal["all", "none"], int] = "all"

    @model_validator(mode="after")
    def _root_for_disk_datasets(self) -> "DataParams":
        if self.dataset not in EMBEDDED_DATASETS and not self.root:
            raise ValueError(
                f"dataset '{self.dataset}' reads from disk: set data.root to its folder"
            )
        if self.dataset in EMBEDDED_DATASETS and self.n_test is None:
            raise ValueError(
                f"dataset '{self.dataset}' has one pool of images: set data.n_test to a number"
            )
        if isinstance(self.verify_images, int) and self.verify_images < 1:
            raise ValueError("data.verify_images must be 'all', 'none' or a positive count per class")
        return self
