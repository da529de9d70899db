"""The ``retrain`` parameters (conf/<env>/parameters_retrain.yml): which models, how, where."""
from __future__ import annotations

import re
from typing import Any, Literal

import torch
from pydantic import Field, field_validator, model_validator

from trade_pipeline.config import Device, Section, Seed, StrictModel
from trade_pipeline.job_runner import JobSettings
from trade_pipeline.profiling import ProfileSettings
from trade_pipeline.training.recipe import TrainingRecipe

TrainedBy = Literal["hard_label", "distill"]
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]+$")  # names become file and metric names
SEARCHED_PREFIX = "trade_"  # searched students are trade_1, trade_2, … in every report and file name


class BaselineParams(StrictModel):
    """A predefined student: a timm architecture (Table 2's rows "searched by: -"), under ``name``
    in the report and the file names."""

    name: str
    model: str
    model_kwargs: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _file_safe(cls, name: str) -> str:
        if not NAME_PATTERN.match(name) or name.startswith(SEARCHED_PREFIX):
            raise ValueError(f"{name!r}: use letters, digits, '_' and '-', and do not start with '{SEARCHED_PREFIX}' "
                             "(the searched students' names)")
        return name

    @field_validator("model")
    @classmethod
    def _timm_knows_it(cls, name: str) -> str:
        from trade_pipeline.models import check_timm_name

        return check_timm_name(name)


class RetrainRecipe(TrainingRecipe):
    """How every retrained model is trained; ``trained_by`` decides ``kd_alpha`` (0 for hard labels).

    The paper trains 450 epochs with KD (τ=1, α=0.7) and OR (App. D.1); the embedded default is
    sized for a CPU. With ``augment`` active the teacher runs on each augmented batch;
    otherwise distillation reads the cached teacher logits.
    """

    epochs: int | None = Field(default=10, ge=1)
    warmup_epochs: float = Field(default=1.0, ge=0)
    drop_rate: float = Field(default=0.0, ge=0, lt=1)  # dropout before every model's head (timm's drop_rate)
    drop_path_rate: float = Field(default=0.0, ge=0, lt=1)  # stochastic depth at the last layer (timm's)

    @field_validator("kd_alpha")
    @classmethod
    def _distills(cls, alpha: float) -> float:
        if alpha == 0:
            raise ValueError("kd_alpha is the distill mode's weight of Eq. 1; hard_label runs set 0 themselves")
        return alpha


class DdpSettings(StrictModel):
    """One model on several devices with PyTorch DDP (processes spawned by the node).

    ``backend=None`` picks nccl on CUDA and gloo on CPU; ``devices`` gives one device per
    process (default ``cuda:0`` .. ``cuda:n-1`` on CUDA, else the CPU).
    """

    nproc: int = Field(default=1, ge=1)
    backend: Literal["gloo", "nccl"] | None = None
    devices: list[Device] | None = None

    @model_validator(mode="after")
    def _one_device_per_process(self) -> DdpSettings:
        if self.devices is not None and len(self.devices) != self.nproc:
            raise ValueError(f"devices lists {len(self.devices)} devices for nproc={self.nproc} processes")
        return self

    def device_of(self, rank: int, default: str) -> str:
        if self.devices is not None:
            return self.devices[rank]
        return f"cuda:{rank}" if torch.device(default).type == "cuda" else default


class RetrainParams(JobSettings, Section):
    """Everything under ``retrain``; where its jobs run is :class:`JobSettings`."""

    section = "retrain"

    students: int | None = Field(default=None, ge=1)
    baselines: list[BaselineParams] = Field(default_factory=list)  # a list, so an environment replaces it
    trained_by: list[TrainedBy] = Field(default=["hard_label", "distill"], min_length=1)
    seeds: list[Seed] = Field(default=[0], min_length=1)
    recipe: RetrainRecipe = RetrainRecipe()
    ddp: DdpSettings = DdpSettings()
    checkpoint_dir: str = "data/06_models/retrain_checkpoints"
    profile: ProfileSettings = ProfileSettings()
    onnx_opset: int = Field(default=17, ge=11)


    @field_validator("baselines")
    @classmethod
    def _names_once(cls, baselines: list[BaselineParams]) -> list[BaselineParams]:
        names = [baseline.name for baseline in baselines]
        if len(set(names)) != len(names):
            raise ValueError(f"baseline names must differ, got {names}")
        return baselines

    @field_validator("trained_by", "seeds")
    @classmethod
    def _each_once(cls, values: list[Any]) -> list[Any]:
        if len(set(values)) != len(values):
            raise ValueError(f"list each value once, got {values}")
        return values

    @model_validator(mode="after")
    def _ddp_runs_one_job_at_a_time(self) -> RetrainParams:
        if self.ddp.nproc > 1 and self.executor != "local":
            raise ValueError("ddp.nproc > 1 spreads one model over several devices: run the jobs one after "
                             "another with executor: local")
        return self
