"""The ``transfer`` parameters (conf/<env>/parameters_transfer.yml): targets, recipe, where."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from trade_pipeline.config import Section, StrictModel
from trade_pipeline.data.augment import Augmentation
from trade_pipeline.data.config import DataParams
from trade_pipeline.data.sources import CIFAR_FOLDERS
from trade_pipeline.job_runner import JobSettings
from trade_pipeline.retrain.config import NAME_PATTERN
from trade_pipeline.training.recipe import TrainingRecipe


class TransferTarget(StrictModel):
    """One transfer dataset (a Table 7 column): a name and how to read and split it (the
    ``data`` settings; train = mini-train + mini-val, evaluated on test)."""

    name: str
    data: DataParams

    @field_validator("name")
    @classmethod
    def _file_safe(cls, name: str) -> str:
        if not NAME_PATTERN.match(name):
            raise ValueError(f"{name!r}: use letters, digits, '_' and '-'")
        return name

    @model_validator(mode="after")
    def _files_are_there(self) -> TransferTarget:
        data = self.data
        if data.dataset in CIFAR_FOLDERS and not data.download:
            expected = Path(data.root) / CIFAR_FOLDERS[data.dataset]
            if not expected.is_dir():
                raise ValueError(f"'{expected}' does not exist: point data.root at the folder holding it "
                                 f"(torchvision's on-disk {data.dataset}), or set data.download: true to fetch it")
        return self


class TransferRecipe(TrainingRecipe):
    """The paper's fine-tuning (App. D.2, "Transferability"): batch 256, lr 0.001 with cosine
    decay, a fixed number of steps (20,000 there), no weight decay, cutout; labels only (the new
    classes have no teacher)."""

    epochs: int | None = Field(default=None, ge=1)
    steps: int | None = Field(default=20_000, ge=1)
    batch_size: int = Field(default=256, ge=1)
    weight_decay: float = Field(default=0.0, ge=0)
    kd_alpha: float = Field(default=0.0, ge=0, le=0)
    augment: Augmentation = Augmentation(cutout=1.0, cutout_size=0.5)


class TransferParams(JobSettings, Section):
    """Everything under ``transfer``; where its jobs run is :class:`JobSettings`."""

    section = "transfer"

    targets: list[TransferTarget] = Field(min_length=1)  # a list, so an environment replaces it
    trained_by: Literal["hard_label", "distill"] = "distill"  # which retrained version of each model to transfer
    scratch: bool = True  # also train each architecture from random weights on the target, for reference
    recipe: TransferRecipe = TransferRecipe()
    checkpoint_dir: str = "data/06_models/transfer_checkpoints"


    @field_validator("targets")
    @classmethod
    def _names_once(cls, targets: list[TransferTarget]) -> list[TransferTarget]:
        names = [target.name for target in targets]
        if len(set(names)) != len(names):
            raise ValueError(f"target names must differ, got {names}")
        return targets
