"""The ``teacher`` parameters (conf/<env>/parameters_teacher.yml), validated before any work.

Several teachers may be configured (Table 4 compares four); each comes from the timm hub, a
local checkpoint or in-project training. ``search_teacher`` names the one whose logits are
cached for the search (paper Table 3 / Fig. 7 use ViT-Large-16).
"""
from __future__ import annotations

import re
from typing import Any, Literal, Union

from pydantic import Field, ValidationInfo, field_validator, model_validator

from trade_pipeline.config import StrictModel, check_device
from trade_pipeline.training.engine import TrainConfig

TeacherSource = Literal["train", "timm", "checkpoint"]
# Names become file names (teachers/<name>.safetensors) and metric keys (teacher.<name>.top1).
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]+$")


class TeacherTrainParams(StrictModel):
    """Hard-label training on mini-train, evaluated on mini-val (source ``train``)."""

    epochs: int = Field(default=5, ge=1)
    batch_size: int = Field(default=64, ge=1)
    lr: float = Field(default=1e-3, gt=0.0)
    warmup_epochs: float = Field(default=0.5, ge=0.0)
    weight_decay: float = Field(default=0.05, ge=0.0)
    optimizer: str = "adamw"
    sched: str = "cosine"
    label_smoothing: float = Field(default=0.0, ge=0.0, lt=1.0)
    seed: int = 0

    @model_validator(mode="after")
    def _engine_accepts_it(self) -> "TeacherTrainParams":
        if self.warmup_epochs >= self.epochs:
            raise ValueError(f"warmup_epochs ({self.warmup_epochs}) must be shorter than epochs ({self.epochs})")
        self.train_config("cpu")  # the engine's own checks (e.g. the optimizer name), before any compute
        return self

    def train_config(self, device: str) -> TrainConfig:
        """The engine's config: hard labels (``kd_alpha=0``) and no OR, since a teacher is a plain model."""
        return TrainConfig(
            epochs=self.epochs,
            warmup_epochs=self.warmup_epochs,
            lr=self.lr,
            weight_decay=self.weight_decay,
            optimizer=self.optimizer,
            sched=self.sched,
            label_smoothing=self.label_smoothing,
            kd_alpha=0.0,
            or_lambda=0.0,
            seed=self.seed,
            device=device,
            eval_every=0,
        )


class TeacherParams(StrictModel):
    """One teacher: where its weights come from and which timm architecture holds them."""

    source: TeacherSource
    model: str
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    pretrained: bool = False
    path: Union[str, None] = None
    train: Union[TeacherTrainParams, None] = None

    @model_validator(mode="after")
    def _fields_fit_the_source(self) -> "TeacherParams":
        if self.source == "timm" and not self.pretrained:
            raise ValueError(
                "source 'timm' loads hub weights: set pretrained: true (an untrained teacher is useless; "
                "use source: train to train one here)"
            )
        if self.source == "checkpoint" and not self.path:
            raise ValueError("source 'checkpoint' needs path: the local .safetensors / .pt state_dict file")
        if self.source == "checkpoint" and self.pretrained:
            raise ValueError("source 'checkpoint' takes its weights from path; remove pretrained: true")
        if self.source != "checkpoint" and self.path is not None:
            raise ValueError(f"path is only read by source 'checkpoint' (source is '{self.source}'); remove it")
        if self.source != "train" and self.train is not None:
            raise ValueError(
                f"train settings are only read by source 'train' (source is '{self.source}'); remove them"
            )
        return self

    @property
    def train_settings(self) -> TeacherTrainParams:
        return self.train or TeacherTrainParams()


class ProfileParams(StrictModel):
    """Latency measurement (profiling.measure_latency): batch-1 median after warm-up."""

    device: str = "cpu"
    warmup: int = Field(default=3, ge=0)
    repeats: int = Field(default=10, ge=1)

    @field_validator("device")
    @classmethod
    def _device_exists(cls, device: str) -> str:
        return check_device(device)


class TeacherPipelineParams(StrictModel):
    """Everything under ``teacher:``.

    ``teachers`` defines teachers by name; ``use`` picks which of them run, in order (null =
    all). Parameters merge softly across environments, so an environment cannot delete a base
    teacher's definition, but its ``use`` list (lists replace, not merge) decides.
    """

    teachers: dict[str, TeacherParams] = Field(min_length=1)
    use: Union[list[str], None] = Field(default=None, min_length=1)
    search_teacher: str
    device: str = "cpu"
    batch_size: int = Field(default=256, ge=1)
    profile: ProfileParams = Field(default_factory=ProfileParams)

    @field_validator("device")
    @classmethod
    def _device_exists(cls, device: str) -> str:
        return check_device(device)

    @field_validator("teachers")
    @classmethod
    def _names_are_file_safe(cls, teachers: dict[str, TeacherParams]) -> dict[str, TeacherParams]:
        bad = [name for name in teachers if not NAME_PATTERN.match(name)]
        if bad:
            raise ValueError(f"teacher name {bad[0]!r} may only use letters, digits, '_' and '-'")
        return teachers

    @field_validator("use")
    @classmethod
    def _used_teachers_are_defined(
        cls, names: Union[list[str], None], info: ValidationInfo
    ) -> Union[list[str], None]:
        teachers = info.data.get("teachers")
        if names is None or teachers is None:
            return names
        unknown = [name for name in names if name not in teachers]
        if unknown:
            raise ValueError(f"{unknown[0]!r} is not defined under teacher.teachers ({', '.join(teachers)})")
        if len(set(names)) != len(names):
            raise ValueError("a teacher is listed twice")
        return names

    @field_validator("search_teacher")
    @classmethod
    def _search_teacher_is_used(cls, name: str, info: ValidationInfo) -> str:
        teachers = info.data.get("teachers")
        used = info.data.get("use") or list(teachers or [])
        if teachers is not None and name not in used:
            raise ValueError(f"{name!r} is not a teacher in use; pick one of: {', '.join(used)}")
        return name

    @property
    def selected(self) -> dict[str, TeacherParams]:
        """The teachers that run, in the order of ``use`` (or of their definitions)."""
        return {name: self.teachers[name] for name in (self.use or self.teachers)}
