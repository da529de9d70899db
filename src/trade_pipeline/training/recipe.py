"""The training recipe: one model of how a network is trained, shared by every stage.

The proxy task, teacher training, the retrain and the transfer all train through the same
engine with a :class:`TrainingRecipe`. Each stage is a subclass that changes only the defaults
that differ for it, so every default is stated once, here, and a YAML block lists only what a
user changes.
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from trade_pipeline.config import Seed, StrictModel
from trade_pipeline.data.augment import Augmentation
from trade_pipeline.data.loaders import LoaderSettings

# Which weights the OR penalty may target. The paper applies it to 1x1 convolutions and
# Transformer FFNs only (§3); "conv" and "linear" exist for ablations.
OrTarget = Literal["conv1x1", "ffn", "conv", "linear"]


class TrainingRecipe(StrictModel):
    """Loss, optimiser, schedule and run length of one training run.

    Set exactly one of ``epochs`` / ``steps`` (optimiser updates; the loader is cycled).
    Warm-up is part of the run, as in "9 epochs including 2 warm-up epochs" (App. D.1).

    ``kd_alpha=0.7``, ``kd_tau=1``: Eq. 1 with the paper's values (§D.1); ``kd_alpha=0`` is
    hard-label training. ``or_lambda=1e-4``: the paper does not state its λ (Fig. 4b sweeps
    it); on freshly initialised embedded-space students Eq. 4 is then 1-2e-3, under 0.1 % of
    the initial CE: a steady pull towards semi-orthogonality that cannot dominate a short run.
    ``or_every=k`` applies Eq. 4 on every k-th update at k·λ: the same pull on average with k
    times fewer kernel launches (it matters on a GPU, where the penalty is launch-bound).
    ``weight_decay=0.05`` is timm/DeiT's decoupled AdamW decay. The optimiser (any timm name,
    with ``opt_eps``) and the schedule (``sched``; ``step`` decays by ``decay_rate`` every
    ``decay_epochs``) come from timm's factories; ``lr_base_size`` scales ``lr`` to the batch.
    ``ema_decay`` keeps timm's exponential moving average of the weights, which is evaluated and
    becomes the trained model. ``bn_recalibration_batches`` re-estimates BatchNorm statistics
    before the final evaluation (see ``Trainer``).
    ``augment`` transforms training batches (none by default); ``loader`` sets the workers of
    on-disk datasets.
    """

    epochs: int | None = Field(default=5, ge=1)
    steps: int | None = Field(default=None, ge=1)
    warmup_epochs: float = Field(default=0.0, ge=0)
    warmup_steps: int = Field(default=0, ge=0)
    batch_size: int = Field(default=128, ge=1)
    optimizer: str = "adamw"
    opt_eps: float | None = Field(default=None, gt=0)  # the optimiser's epsilon; None: timm's default
    lr: float = Field(default=1e-3, gt=0)
    lr_base_size: int | None = Field(default=None, ge=1)  # lr is per this many images, scaled to batch_size
    warmup_lr: float = Field(default=1e-5, ge=0)
    min_lr: float = Field(default=0.0, ge=0)
    weight_decay: float = Field(default=0.05, ge=0)
    sched: Literal["cosine", "tanh", "poly", "constant", "step"] = "cosine"
    decay_epochs: float = Field(default=2.4, gt=0)  # sched "step": multiply lr by decay_rate every decay_epochs
    decay_rate: float = Field(default=0.97, gt=0, le=1)
    kd_alpha: float = Field(default=0.7, ge=0, le=1)
    kd_tau: float = Field(default=1.0, gt=0)
    or_lambda: float = Field(default=1e-4, ge=0)
    or_targets: tuple[OrTarget, ...] = ("conv1x1", "ffn")
    or_every: int = Field(default=1, ge=1)
    label_smoothing: float = Field(default=0.0, ge=0, lt=1)
    ema_decay: float | None = Field(default=None, gt=0, lt=1)  # average the weights (timm's ModelEmaV3)
    grad_clip: float | None = Field(default=None, gt=0)
    amp: bool = True
    channels_last: bool = True
    bn_recalibration_batches: int = Field(default=0, ge=0)
    augment: Augmentation = Augmentation()
    loader: LoaderSettings = LoaderSettings()
    seed: Seed = 0

    @field_validator("optimizer")
    @classmethod
    def _timm_knows_it(cls, name: str) -> str:
        from timm.optim import list_optimizers

        if name not in list_optimizers():
            raise ValueError(f"unknown optimizer {name!r}; use a timm name such as adamw, sgd or lamb "
                             "(timm.optim.list_optimizers())")
        return name

    @model_validator(mode="after")
    def _one_run_length(self) -> TrainingRecipe:
        if (self.epochs is None) == (self.steps is None):
            raise ValueError(f"set exactly one of epochs / steps (the other to null), got epochs={self.epochs}, "
                             f"steps={self.steps}")
        if self.warmup_epochs and self.warmup_steps:
            raise ValueError("set warmup_epochs or warmup_steps, not both")
        if self.epochs is not None and self.warmup_epochs >= self.epochs:
            raise ValueError(f"warmup_epochs ({self.warmup_epochs}) must be shorter than epochs ({self.epochs})")
        if self.steps is not None and self.warmup_steps >= self.steps:
            raise ValueError(f"warmup_steps ({self.warmup_steps}) must be shorter than steps ({self.steps})")
        return self

    def total_steps(self, steps_per_epoch: int) -> int:
        """Optimiser updates in the whole run."""
        return self.steps if self.steps is not None else self.epochs * steps_per_epoch

    def warmup_updates(self, steps_per_epoch: int) -> int:
        """Warm-up length in optimiser updates."""
        return self.warmup_steps or round(self.warmup_epochs * steps_per_epoch)

    def decay_updates(self, steps_per_epoch: int) -> float:
        """The ``step`` schedule's decay interval in optimiser updates."""
        return self.decay_epochs * steps_per_epoch

    @property
    def scaled_lr(self) -> float:
        """The learning rate of one update: ``lr`` scaled linearly from ``lr_base_size`` images
        to ``batch_size`` (timm's ``--lr-base`` rule), or ``lr`` itself."""
        return self.lr if self.lr_base_size is None else self.lr * self.batch_size / self.lr_base_size


class ProxyRecipe(TrainingRecipe):
    """The search's proxy task (§D.1: 9 epochs including 2 warm-up, KD τ=1 α=0.7, OR on).

    ``data_fraction`` trains on a stratified share of mini-train with the epochs unchanged
    (Table 3 keeps the number of iterations instead: raise ``epochs`` to match). Candidates
    are seeded with ``search.seed`` plus their trial id, so ``seed`` stays at 0 here.
    ``bn_recalibration_batches=10``: a few-epoch run leaves BatchNorm statistics stale (one
    epoch scored 10 % without, 77 % with on the embedded default).
    """

    epochs: int | None = Field(default=9, ge=1)
    warmup_epochs: float = Field(default=2.0, ge=0)
    data_fraction: float = Field(default=1.0, gt=0, le=1)
    bn_recalibration_batches: int = Field(default=10, ge=0)

    @field_validator("seed")
    @classmethod
    def _seeded_by_the_search(cls, seed: int) -> int:
        if seed != 0:
            raise ValueError("each candidate is seeded with search.seed + its trial id; set search.seed instead")
        return seed

    @field_validator("augment")
    @classmethod
    def _images_the_cache_saw(cls, augment: Augmentation) -> Augmentation:
        if augment.active:
            raise ValueError("the proxy distils from teacher logits cached on un-augmented images; leave it off")
        return augment

    @model_validator(mode="before")
    @classmethod
    def _warmup_inside_a_shortened_run(cls, values: object) -> object:
        """Warm-up is cut to leave one epoch at the full rate, so ``--params=search.proxy.epochs=1``
        shortens a run configured with 2 warm-up epochs instead of failing."""
        if not isinstance(values, dict):
            return values
        epochs = values.get("epochs", cls.model_fields["epochs"].default)
        warmup = values.get("warmup_epochs", cls.model_fields["warmup_epochs"].default)
        if isinstance(epochs, int) and isinstance(warmup, int | float) and warmup >= epochs:
            values = {**values, "warmup_epochs": max(epochs - 1, 0)}
        return values


class TeacherRecipe(TrainingRecipe):
    """In-project teacher training: hard labels on mini-train; a teacher has no teacher and no OR."""

    batch_size: int = Field(default=64, ge=1)
    warmup_epochs: float = Field(default=0.5, ge=0)
    kd_alpha: float = Field(default=0.0, ge=0, le=0)
    or_lambda: float = Field(default=0.0, ge=0)
