"""One training engine for the proxy task, the retrain and the transfer.

Loss = Eq. 1 (KD from cached teacher logits or an online teacher; ``kd_alpha=0`` is
hard-label training) + Eq. 4 (OR on 1x1 convolutions and Transformer FFNs). Optimiser and
warm-up + cosine schedule come from timm's factories; the schedule is stepped per update.
On CUDA the step runs under AMP with channels_last; on CPU it is plain float32.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import torch
from timm.optim import create_optimizer_v2
from timm.scheduler import create_scheduler_v2
from timm.utils import ModelEmaV3
from torch import nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from trade_pipeline.training.checkpoint import Checkpoint
from trade_pipeline.training.evaluation import evaluate
from trade_pipeline.training.losses import OrthogonalityPenalty, kd_loss, orthogonality_targets
from trade_pipeline.training.recipe import TrainingRecipe
from trade_pipeline.training.soft_labels import SoftLabels


@dataclass
class TrainResult:
    """Outcome of ``train_model``; accuracies are percentages of the final evaluation.

    ``status`` is "failed" (with ``reason``, no accuracies) when the loss became NaN/inf or
    the device ran out of memory: a search records it and moves on; "stopped" when a
    :class:`Probe` stopped it (``probes`` holds what it saw, no final accuracies).
    """

    status: str
    reason: str = ""
    top1: float | None = None
    top5: float | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    steps: int = 0
    probes: list[dict[str, Any]] = field(default_factory=list)


def _check_distillation_source(
    recipe: TrainingRecipe, soft_labels: SoftLabels | None, teacher: nn.Module | None
) -> None:
    if recipe.kd_alpha > 0 and soft_labels is None and teacher is None:
        raise ValueError(
            f"kd_alpha={recipe.kd_alpha} needs soft_labels (cached teacher logits) or a "
            f"teacher; pass one, or set kd_alpha=0 for hard-label training"
        )
    if soft_labels is not None and teacher is not None:
        raise ValueError("pass soft_labels or teacher, not both")


def _optimizer_and_schedule(model: nn.Module, recipe: TrainingRecipe, total_steps: int, warmup_steps: int,
                            decay_steps: float | None) -> tuple[torch.optim.Optimizer, Any]:
    """timm's optimiser and warm-up + decay schedule for ``recipe``, in optimiser updates
    (``updates_per_epoch=1``) whatever the run counts in: ``decay_steps`` is the ``step``
    schedule's interval in updates, which only the caller, knowing the loader, can give."""
    if recipe.sched == "step" and decay_steps is None:
        raise ValueError("sched 'step' needs decay_steps, its interval in updates "
                         "(recipe.decay_updates(steps_per_epoch)); decay_epochs counts epochs")
    optimizer = create_optimizer_v2(
        model, opt=recipe.optimizer, lr=recipe.scaled_lr, weight_decay=recipe.weight_decay,
        **({"eps": recipe.opt_eps} if recipe.opt_eps is not None else {}),
    )
    scheduler, _ = create_scheduler_v2(
        optimizer,
        sched=recipe.sched,
        num_epochs=total_steps,
        warmup_epochs=warmup_steps,
        **({"decay_epochs": decay_steps, "decay_rate": recipe.decay_rate} if recipe.sched == "step" else {}),
        warmup_lr=recipe.warmup_lr,
        min_lr=recipe.min_lr,
        step_on_epochs=False,
        updates_per_epoch=1,
    )
    return optimizer, scheduler


class Trainer:
    """One run's model, optimiser, schedule and KD source, prepared once.

    Everything is resolved here (the grouped OR penalty, AMP, memory format) so ``step`` does
    no set-up work. ``train_model`` drives it; benchmarks time ``step`` directly.

    ``decay_steps``: the ``step`` schedule's interval in updates, required with ``sched: step``
    (``train_model`` passes ``recipe.decay_updates``). ``recipe.bn_recalibration_batches`` > 0 re-estimates BatchNorm running statistics as the
    plain average over that many training batches before the final evaluation: in a few-epoch
    proxy run the running averages lag the fast-moving weights and eval-mode accuracy can
    collapse to chance (measured on the embedded default after one epoch: 10 % without,
    76 % with); NAS proxies commonly recalibrate for that reason.
    """

    def __init__(
        self,
        model: nn.Module,
        recipe: TrainingRecipe,
        total_steps: int,
        warmup_steps: int,
        device: str | torch.device = "cpu",
        soft_labels: SoftLabels | None = None,
        teacher: nn.Module | None = None,
        log_every: int = 10,
        decay_steps: float | None = None,
    ) -> None:
        _check_distillation_source(recipe, soft_labels, teacher)
        if warmup_steps >= total_steps:
            raise ValueError(
                f"warm-up ({warmup_steps} updates) must be shorter than the run "
                f"({total_steps} updates); lower warmup_epochs / warmup_steps"
            )
        self.recipe = recipe
        self.log_every = log_every
        self.device = torch.device(device)
        on_cuda = self.device.type == "cuda"
        self.use_amp = recipe.amp and on_cuda
        self.memory_format = (
            torch.channels_last if recipe.channels_last and on_cuda else torch.preserve_format
        )
        self.model = model.to(self.device, memory_format=self.memory_format)
        self.teacher = None
        if teacher is not None and recipe.kd_alpha > 0:
            self.teacher = teacher.eval().to(self.device, memory_format=self.memory_format)
        self.soft_labels = soft_labels if recipe.kd_alpha > 0 else None
        or_weights = orthogonality_targets(model, recipe.or_targets) if recipe.or_lambda > 0 else []
        self.or_penalty = OrthogonalityPenalty(or_weights) if or_weights else None
        self.optimizer, self.scheduler = _optimizer_and_schedule(model, recipe, total_steps, warmup_steps, decay_steps)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.use_amp)
        self.ema = None
        if recipe.ema_decay:
            self.ema = ModelEmaV3(self._bare_model, decay=recipe.ema_decay, device=self.device)
        self.num_updates = 0

    @property
    def _bare_model(self) -> nn.Module:
        """The model inside a DDP wrapper (the average is kept of the module, not the wrapper)."""
        return self.model.module if isinstance(self.model, nn.parallel.DistributedDataParallel) else self.model

    @property
    def evaluated(self) -> nn.Module:
        """What evaluation sees: the weights' moving average when ``ema_decay`` is set."""
        return self.model if self.ema is None else self.ema.module

    def adopt_average(self) -> None:
        """End of training: the model takes the moving average's weights (with ``ema_decay``)."""
        if self.ema is not None:
            self._bare_model.load_state_dict(self.ema.module.state_dict())

    @property
    def lr(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    def state_dict(self) -> dict[str, Any]:
        """Everything an update depends on: weights, optimiser, schedule, AMP scale, torch RNGs."""
        optimizer = self.optimizer.state_dict()
        rng = {"cpu": torch.get_rng_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        return {
            "model": self.model.state_dict(),
            "optimizer": {"state": {str(k): v for k, v in optimizer["state"].items()},
                          "param_groups": optimizer["param_groups"]},
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "num_updates": self.num_updates,
            "rng": rng,
            **({"ema": self.ema.module.state_dict()} if self.ema is not None else {}),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        optimizer = state["optimizer"]
        self.optimizer.load_state_dict({"state": {int(k): v for k, v in optimizer["state"].items()},
                                        "param_groups": optimizer["param_groups"]})
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        self.num_updates = state["num_updates"]
        if self.ema is not None:
            self.ema.module.load_state_dict(state["ema"])
        torch.set_rng_state(state["rng"]["cpu"])
        if "cuda" in state["rng"]:
            torch.cuda.set_rng_state(state["rng"]["cuda"], self.device)

    def _teacher_logits(
        self, images: torch.Tensor, indices: torch.Tensor
    ) -> torch.Tensor | None:
        if self.soft_labels is not None:
            return self.soft_labels.lookup(indices).to(self.device, non_blocking=True)
        if self.teacher is not None:
            with torch.no_grad():
                return self.teacher(images)
        return None

    def step(
        self, images: torch.Tensor, labels: torch.Tensor, indices: torch.Tensor
    ) -> torch.Tensor:
        """One update; returns the detached loss without synchronising the device."""
        recipe = self.recipe
        images = images.to(self.device, non_blocking=True, memory_format=self.memory_format)
        labels = labels.to(self.device, non_blocking=True)
        with torch.autocast(self.device.type, enabled=self.use_amp):
            logits = self.model(images)
            teacher_logits = self._teacher_logits(images, indices)
            loss = kd_loss(
                logits, labels, teacher_logits, recipe.kd_alpha, recipe.kd_tau,
                recipe.label_smoothing,
            )
        if self.or_penalty is not None and self.num_updates % recipe.or_every == 0:  # float32, outside autocast
            # every k-th step at k times the weight: the same pull on average, k times fewer kernels
            loss = loss + self.or_penalty(recipe.or_lambda * recipe.or_every)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if recipe.grad_clip is not None:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.model.parameters(), recipe.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.num_updates += 1
        if self.ema is not None:
            self.ema.update(self.model, step=self.num_updates)
        self.scheduler.step_update(num_updates=self.num_updates)
        return loss.detach()

    def recalibrate_batchnorm(self, batches: Iterable, model: nn.Module | None = None) -> None:
        """Replace BatchNorm running statistics of ``model`` (the trained one by default) by their
        plain average over ``batches``."""
        model = self.model if model is None else model
        norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
        momenta = [norm.momentum for norm in norms]
        for norm in norms:
            norm.reset_running_stats()
            norm.momentum = None  # cumulative average instead of an exponential one
        model.train()
        with torch.no_grad(), torch.autocast(self.device.type, enabled=self.use_amp):
            for images, _, _ in batches:
                model(images.to(self.device, non_blocking=True, memory_format=self.memory_format))
        for norm, momentum in zip(norms, momenta):
            norm.momentum = momentum

    def probe_score(self, probe: Probe) -> float:
        """Top-1 on ``probe.loader`` of what a run ending now would report (a copy of the evaluated
        model, its BatchNorm statistics recalibrated on ``probe.calibration`` as the last epoch's
        are), leaving the run's model and random state as they were."""
        model = copy.deepcopy(self.evaluated)
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):  # a forward in training mode may draw dropout masks
            if self.recipe.bn_recalibration_batches and probe.calibration is not None:
                self.recalibrate_batchnorm(islice(probe.calibration, self.recipe.bn_recalibration_batches), model)
            top1, _ = evaluate(model, probe.loader, self.device, self.use_amp)
        return top1

    def train_epoch(self, batches: Iterable, n_steps: int, bar: tqdm) -> float:
        """Mean loss over ``n_steps`` updates; stops early and returns it once non-finite.

        The loss is read back only every ``log_every`` updates, so a CUDA step does not
        wait for the device; a NaN/inf anywhere in a window makes its sum non-finite.
        """
        self.model.train()
        window = torch.zeros((), device=self.device)
        window_steps, loss_sum = 0, 0.0
        for step, (images, labels, indices) in enumerate(batches, start=1):
            window += self.step(images, labels, indices)
            window_steps += 1
            if step % self.log_every and step != n_steps:
                continue
            window_sum = window.item()
            loss_sum += window_sum
            if not math.isfinite(window_sum):
                return window_sum
            bar.update(window_steps)
            bar.set_postfix(loss=f"{window_sum / window_steps:.4f}", lr=f"{self.lr:.2e}")
            window.zero_()
            window_steps = 0
        return loss_sum / n_steps


@dataclass(frozen=True)
class Probe:
    """Evaluations inside a run, for a caller that acts on the learning curve (a pruner).

    After each update count in ``at`` (before the last), the model as a run ending there would
    report it is scored on ``loader`` (:meth:`Trainer.probe_score`: its average when one is kept,
    BatchNorm recalibrated on ``calibration``, training batches in a fixed order, when the recipe
    recalibrates; without it a few-epoch run scores at chance); ``stop(updates, top1)`` says whether
    to end the run there. A probe only reads the model, so a run it never stops ends with the
    weights of a run without it.
    """

    at: tuple[int, ...]
    loader: Iterable | None  # None: the caller's evaluation loader (``proxy_train``)
    stop: Callable[[int, float], bool] = lambda updates, top1: False
    calibration: Iterable | None = None


@dataclass(frozen=True)
class RunOptions:
    """How ``train_model`` reports and persists a run, as opposed to what it trains (the recipe).

    ``eval_every=0`` evaluates only after the last epoch; ``on_epoch`` receives each epoch's
    history row (for tracking); ``checkpoint`` makes the run resumable (it is read always and
    written when ``save_checkpoints``: under DDP by one process only); ``probe`` evaluates
    inside epochs too (:class:`Probe`).
    """

    progress: bool = True
    description: str = ""
    eval_every: int = 1
    checkpoint: Checkpoint | None = None
    save_checkpoints: bool = True
    on_epoch: Callable[[dict[str, Any]], None] | None = None
    probe: Probe | None = None


STOPPED = "stopped by the probe"


def _train_probed(trainer: Trainer, batches: Iterable, n_steps: int, bar: tqdm, probe: Probe | None,
                  total_steps: int, probes: list[dict[str, Any]]) -> float | str:
    """One epoch of ``n_steps`` updates, cut at the probe's update counts that fall inside the run:
    its mean loss, or :data:`STOPPED` once the probe said so (each probe appended to ``probes``)."""
    start = trainer.num_updates
    cuts = sorted({at - start for at in (probe.at if probe else ()) if 0 < at - start <= n_steps and at < total_steps})
    if not cuts:
        return trainer.train_epoch(batches, n_steps, bar)
    batches, done, loss_sum = iter(batches), 0, 0.0
    for cut in cuts if cuts[-1] == n_steps else [*cuts, n_steps]:
        loss = trainer.train_epoch(islice(batches, cut - done), cut - done, bar)
        if not math.isfinite(loss):
            return loss
        loss_sum, done = loss_sum + loss * (cut - done), cut
        if cut in cuts:
            top1 = trainer.probe_score(probe)
            probes.append({"updates": trainer.num_updates, "top1": top1})
            if probe.stop(trainer.num_updates, top1):
                return STOPPED
    return loss_sum / n_steps


def _run_epochs(
    trainer: Trainer,
    train_loader: DataLoader,
    eval_loader: DataLoader,
    total_steps: int,
    history: list[dict[str, Any]],
    options: RunOptions,
    probes: list[dict[str, Any]],
) -> str | None:
    """Train and evaluate epoch by epoch after the ``len(history)`` done, appending to ``history``
    (and any probe to ``probes``); returns why the run failed or :data:`STOPPED`, or None."""
    recipe = trainer.recipe
    steps_per_epoch = len(train_loader)
    n_epochs = math.ceil(total_steps / steps_per_epoch)
    with tqdm(total=total_steps, initial=trainer.num_updates, disable=not options.progress, unit="step",
              desc=options.description) as bar:
        for epoch in range(len(history) + 1, n_epochs + 1):
            bar.set_description(f"{options.description}epoch {epoch}/{n_epochs}")
            epoch_start = time.perf_counter()
            n_steps = min(steps_per_epoch, total_steps - trainer.num_updates)
            train_loss = _train_probed(trainer, islice(train_loader, n_steps), n_steps, bar, options.probe,
                                       total_steps, probes)
            if train_loss == STOPPED:
                return STOPPED
            if not math.isfinite(train_loss):
                return (
                    f"non-finite training loss ({train_loss}) in epoch {epoch}, "
                    f"by update {trainer.num_updates}"
                )
            top1 = top5 = None
            if epoch == n_epochs:
                trainer.adopt_average()
            if epoch == n_epochs and recipe.bn_recalibration_batches:
                trainer.recalibrate_batchnorm(islice(train_loader, recipe.bn_recalibration_batches))
            if epoch == n_epochs or (options.eval_every and epoch % options.eval_every == 0):
                top1, top5 = evaluate(
                    trainer.model if epoch == n_epochs else trainer.evaluated, eval_loader, trainer.device,
                    trainer.use_amp
                )
                bar.set_postfix(loss=f"{train_loss:.4f}", top1=f"{top1:.2f}")
            history.append({
                "epoch": epoch, "train_loss": train_loss, "lr": trainer.lr,
                "top1": top1, "top5": top5, "seconds": time.perf_counter() - epoch_start,
            })
            if options.checkpoint is not None and options.save_checkpoints:
                options.checkpoint.save(trainer.state_dict(), train_loader.state_dict(), epoch, history, probes)
            if options.on_epoch is not None:
                options.on_epoch(history[-1])
    return None


def train_model(
    model: nn.Module,
    train_loader: DataLoader,
    eval_loader: DataLoader,
    recipe: TrainingRecipe,
    device: str | torch.device = "cpu",
    soft_labels: SoftLabels | None = None,
    teacher: nn.Module | None = None,
    options: RunOptions = RunOptions(),
) -> TrainResult:
    """Train ``model`` in place on ``(images, labels, indices)`` batches, then evaluate.

    Deterministic on CPU for a fixed ``recipe.seed`` (it seeds torch's global RNG, used by
    dropout / drop-path) provided the caller's loader shuffles with its own seeded
    generator. The model (and teacher) are moved to ``device``. Input errors raise
    before any update; a NaN/inf loss or running out of device memory returns a "failed"
    result instead, so a search can record it and go on. With ``options.checkpoint`` the run
    resumes from its last finished epoch, and on CPU ends with the same weights as a run that
    was never interrupted.
    """
    steps_per_epoch = len(train_loader)
    if steps_per_epoch == 0:
        raise ValueError("train_loader yields no batches; check the split and batch size")
    total_steps = recipe.total_steps(steps_per_epoch)
    torch.manual_seed(recipe.seed)
    trainer = Trainer(model, recipe, total_steps, recipe.warmup_updates(steps_per_epoch), device, soft_labels, teacher,
                      decay_steps=recipe.decay_updates(steps_per_epoch))
    history: list[dict[str, Any]] = []
    probes: list[dict[str, Any]] = []
    saved = options.checkpoint.load() if options.checkpoint is not None else None
    if saved is not None:
        trainer.load_state_dict(saved["trainer"])
        train_loader.load_state_dict(saved["loader"])
        history, probes = saved["history"], list(saved.get("probes", []))
    start = time.perf_counter()
    try:
        reason = _run_epochs(trainer, train_loader, eval_loader, total_steps, history, options, probes)
    except torch.OutOfMemoryError as error:
        reason = f"out of memory: {error}"
    final = history[-1] if history and reason is None else {}
    return TrainResult(
        status="ok" if reason is None else "stopped" if reason == STOPPED else "failed",
        reason=reason or "",
        top1=final.get("top1"),
        top5=final.get("top5"),
        history=history,
        seconds=time.perf_counter() - start,
        steps=trainer.num_updates,
        probes=probes,
    )
