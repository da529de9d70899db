"""The ``search`` parameters (conf/<env>/parameters_search.yml), validated before any compute.

``search.space`` is validated by ``trade_pipeline.students.space.SearchSpace`` and the TuRBO
options by ``trade_pipeline.optim.TurboConfig``; this module checks everything else and
builds both, so a typo anywhere under ``search`` stops the run before the first candidate.
"""
from __future__ import annotations

from typing import Any, Union

from pydantic import Field, field_validator, model_validator

from trade_pipeline.config import ConfigError, StrictModel, check_device, parse_params
from trade_pipeline.optim import OPTIMIZERS, TurboConfig
from trade_pipeline.search.executors import EXECUTORS
from trade_pipeline.students.space import SearchSpace
from trade_pipeline.training.engine import TrainConfig

PAPER_ONLY_STRATEGIES = ("evolution", "lamcts", "rl")


class ProxyParams(StrictModel):
    """The proxy task (paper §D.1: 9 epochs incl. 2 warm-up, KD τ=1 α=0.7, OR on 1x1/FFN)."""

    epochs: int = Field(default=9, ge=1)
    warmup_epochs: float = Field(default=2, ge=0)
    data_fraction: Union[float, None] = Field(default=None, gt=0, le=1)
    batch_size: int = Field(default=128, ge=1)
    lr: float = Field(default=2e-3, gt=0)
    weight_decay: float = Field(default=0.05, ge=0)
    optimizer: str = "adamw"
    kd_alpha: float = Field(default=0.7, ge=0, le=1)
    kd_tau: float = Field(default=1.0, gt=0)
    or_lambda: float = Field(default=1e-4, ge=0)
    or_targets: list[str] = ["conv1x1", "ffn"]
    bn_recalibration_batches: int = Field(default=10, ge=0)

    @property
    def warmup(self) -> float:
        """Warm-up epochs inside the run: a run shortened with ``--params=search.proxy.epochs=1``
        keeps at least one epoch at the full learning rate instead of failing."""
        return min(self.warmup_epochs, max(self.epochs - 1, 0))

    @model_validator(mode="after")
    def _engine_accepts_it(self) -> "ProxyParams":
        self.train_config("cpu", seed=0)  # the engine's own checks (optimizer, OR targets) up front
        return self

    def train_config(self, device: str, seed: int) -> TrainConfig:
        """The engine's config for one candidate's proxy run (quiet: the search has its own bar)."""
        return TrainConfig(
            epochs=self.epochs,
            warmup_epochs=self.warmup,
            lr=self.lr,
            weight_decay=self.weight_decay,
            optimizer=self.optimizer,
            kd_alpha=self.kd_alpha,
            kd_tau=self.kd_tau,
            or_lambda=self.or_lambda,
            or_targets=tuple(self.or_targets),
            bn_recalibration_batches=self.bn_recalibration_batches,
            device=device,
            seed=seed,
            progress=False,
            eval_every=0,
        )


class ScoreParams(StrictModel):
    """Eq. 2: ``acc_target`` in proxy top-1 percent, or the proxy accuracy of a reference student."""

    epsilon: float = Field(default=0.01, gt=0)
    acc_target: Union[float, None] = Field(default=None, gt=0, le=100)
    reference_student: Union[str, None] = None

    @model_validator(mode="after")
    def _one_target(self) -> "ScoreParams":
        if (self.acc_target is None) == (self.reference_student is None):
            raise ValueError("set exactly one of search.score.acc_target (a top-1 %) or "
                             "search.score.reference_student (a timm model name)")
        return self


class BudgetParams(StrictModel):
    """Upper bounds relative to the teacher; a candidate over any is rejected before training."""

    max_params_ratio: Union[float, None] = Field(default=None, gt=0)
    max_macs_ratio: Union[float, None] = Field(default=None, gt=0)
    max_latency_ratio: Union[float, None] = Field(default=None, gt=0)
    max_s: Union[float, None] = Field(default=None, gt=0)


class ProfileParams(StrictModel):
    warmup: int = Field(default=3, ge=0)
    repeats: int = Field(default=10, ge=1)


class DaskParams(StrictModel):
    address: Union[str, None] = None
    n_workers: Union[int, None] = Field(default=None, ge=1)
    devices: Union[list[str], None] = None
    connect_timeout: float = Field(default=10.0, gt=0)


class SearchParams(StrictModel):
    """Everything under ``search`` except the space (validated by ``SearchSpace``)."""

    strategy: str = "turbo"
    n_trials: int = Field(default=30, ge=1)
    batch_size: int = Field(default=4, ge=1)
    seed: int = 0
    resume: bool = True
    state_dir: str = "data/07_model_output/search_state"
    device: str = "cpu"
    executor: str = "local"
    dask: DaskParams = DaskParams()
    turbo: dict[str, Any] = {}
    proxy: ProxyParams = ProxyParams()
    score: ScoreParams
    budget: BudgetParams = BudgetParams()
    profile: ProfileParams = ProfileParams()
    top_k: int = Field(default=3, ge=1)
    space: dict[str, Any]

    @field_validator("device")
    @classmethod
    def _device_exists(cls, device: str) -> str:
        return check_device(device)

    @model_validator(mode="after")
    def _known_names(self) -> "SearchParams":
        if self.strategy in PAPER_ONLY_STRATEGIES:
            raise ValueError(f"search.strategy '{self.strategy}' is planned but not implemented yet; "
                             f"use one of {sorted(OPTIMIZERS)}")
        if self.strategy not in OPTIMIZERS:
            raise ValueError(f"search.strategy must be one of {sorted(OPTIMIZERS)}, got '{self.strategy}'")
        if self.executor not in EXECUTORS:
            raise ValueError(f"search.executor must be one of {sorted(EXECUTORS)}, got '{self.executor}'")
        return self


def parse_search_params(params: dict[str, Any]) -> tuple[SearchParams, SearchSpace, TurboConfig]:
    """Validates ``params:search`` whole: the scalars, the space and the TuRBO options."""
    search = parse_params(SearchParams, params, "search")
    space = SearchSpace.from_config(search.space)
    try:
        turbo = TurboConfig.from_dict(dict(search.turbo))
    except (TypeError, ValueError) as error:
        raise ConfigError(f"search.turbo: {error}") from None
    return search, space, turbo
