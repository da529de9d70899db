"""The search objective: one candidate from cube point to trial row (paper §3.1, §D.1).

decode -> spec -> build -> profile (params, MACs, latency) -> reject if over budget ->
proxy KD training from the cached teacher logits -> mini-val top-1 -> Eq. 2 score. Every
outcome, failures included, is a row: an evaluation never raises for a bad candidate, so one
broken architecture cannot stop a search.
"""
from __future__ import annotations

import dataclasses
import logging
import math
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

from trade_pipeline.contracts import TeacherLogits
from trade_pipeline.data.loaders import make_loader
from trade_pipeline.data.split import Split
from trade_pipeline.models import build_model, student_model_spec, timm_model_spec
from trade_pipeline.profiling import LatencyReference, ProfileSettings, profile_model
from trade_pipeline.search.fidelity import images_seen
from trade_pipeline.search.pruning import PruneRule
from trade_pipeline.search.score import Budget, KDGuidedScore, resource_ratio
from trade_pipeline.search.trials import TrialRow
from trade_pipeline.students.space import SearchSpace
from trade_pipeline.training.checkpoint import Checkpoint
from trade_pipeline.training.engine import Probe, RunOptions, TrainResult, train_model
from trade_pipeline.training.recipe import ProxyRecipe
from trade_pipeline.training.soft_labels import SoftLabels

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Candidate:
    """A point the optimizer asked for, with its place in the search."""

    trial_id: int
    iteration: int
    point: tuple[float, ...]
    trust_region: int | None
    predicted_accuracy: float | None = None  # the strategy's model of it before training (composite)
    p_feasible: float | None = None  # the strategy's probability that it meets the accuracy target (composite)
    guided: bool = False  # chosen from what the strategy learned, not by its design or a uniform draw
    predicted_latency_ms: float | None = None  # the search's latency model before profiling
    rung: int = 0  # search.fidelity rung it is trained on (0 when the ladder is off)
    prune: PruneRule | None = None  # search.pruning's rule for its bracket (set when it is evaluated)
    checkpoint: str | None = None  # where its proxy run saves its state after each epoch (set when it is evaluated)


@dataclass
class ObjectiveContext:
    """Everything needed to evaluate candidates; plain data, so it travels to Dask workers."""

    space: SearchSpace
    split: Split
    proxy_indices: np.ndarray  # the proxy subset of mini-train (search.proxy.data_fraction)
    teacher_logits: TeacherLogits
    teacher_costs: dict[str, float]
    proxy: ProxyRecipe
    profile: ProfileSettings
    budget: Budget
    epsilon: float
    acc_target: float
    strategy: str
    seed: int
    objective: str = "eq2"  # search.objective: eq2 (one target) or pareto (the accuracy-cost front)
    latency_reference: LatencyReference | None = None  # the teacher, timed in turn with each candidate
    rungs: tuple[float, ...] = (1.0,)  # search.fidelity.rungs: shares of proxy_indices, the last 1.0
    rung_indices: tuple[np.ndarray, ...] = ()  # the training subset of each rung below the top
    _soft_labels: SoftLabels | None = field(default=None, repr=False)

    @property
    def score(self) -> KDGuidedScore:
        """Eq. 2 at this search's target."""
        return KDGuidedScore(self.acc_target, self.epsilon)

    def told_value(self, accuracy: float, s: float) -> float:
        """What the strategy is told of a student with proxy ``accuracy`` and resource ratio ``s``:
        log Eq. 2 at the target; searching the front (``pareto``), log(s / accuracy), Eq. 2 without
        its target, so that nothing the strategy keeps depends on one. NaN if it learned nothing."""
        if self.objective == "eq2":
            return self.score.log_value(accuracy, s)
        return math.log(s / accuracy) if accuracy > 0 and s > 0 else math.nan

    @property
    def proxy_updates(self) -> int:
        """Optimiser updates of one full proxy run (the loaders' last batch may be short)."""
        return self.proxy.total_steps(math.ceil(len(self.proxy_indices) / self.proxy.batch_size))

    @property
    def soft_labels(self) -> SoftLabels:
        if self._soft_labels is None:  # built once per process, on first use
            self._soft_labels = SoftLabels.from_cache(self.teacher_logits, "mini_train")
        return self._soft_labels

    def training_indices(self, rung: int | None = None) -> np.ndarray:
        """The mini-train indices a candidate trains on at ``rung`` (the top, or None: ``proxy_indices``)."""
        return self.proxy_indices if rung is None or rung >= len(self.rung_indices) else self.rung_indices[rung]


def proxy_train(model: torch.nn.Module, context: ObjectiveContext, seed: int, device: str, rung: int | None = None,
                eval_every: int = 0, probe: Probe | None = None, checkpoint: Checkpoint | None = None) -> TrainResult:
    """The proxy task: KD from cached logits on the proxy subset of mini-train (the share of
    ``rung``; the top rung by default), scored on mini-val after the last epoch (and every
    ``eval_every`` epochs, for a learning curve; and at the ``probe``'s updates); resumed from,
    and saved after each epoch to, ``checkpoint`` when given."""
    proxy = context.proxy
    train_loader = make_loader(context.split, "mini_train", proxy.batch_size, shuffle=True, seed=seed,
                               indices=context.training_indices(rung), device=device,
                               settings=proxy.loader)
    eval_loader = make_loader(context.split, "mini_val", max(proxy.batch_size, 256), device=device,
                              settings=proxy.loader)
    soft_labels = context.soft_labels if proxy.kd_alpha > 0 else None
    if probe is not None and probe.loader is None:  # scored on mini-val
        probe = dataclasses.replace(probe, loader=eval_loader)
    if probe is not None and probe.calibration is None:  # BatchNorm recalibrated on the training images, in order
        probe = dataclasses.replace(probe, calibration=make_loader(
            context.split, "mini_train", proxy.batch_size, indices=context.training_indices(rung), device=device,
            settings=proxy.loader))
    # quiet: the search has its own progress bar
    return train_model(model, train_loader, eval_loader, proxy.model_copy(update={"seed": seed}), device,
                       soft_labels=soft_labels,
                       options=RunOptions(progress=False, eval_every=eval_every, probe=probe, checkpoint=checkpoint))


def reference_accuracy(model_name: str, context: ObjectiveContext, device: str) -> float:
    """Proxy top-1 of a predefined timm student trained exactly like the candidates (Eq. 2 target)."""
    split = context.split
    torch.manual_seed(context.seed)
    model = build_model(timm_model_spec(model_name, split.channels, split.num_classes, split.image_size))
    result = proxy_train(model, context, context.seed, device)
    if result.status != "ok":
        raise RuntimeError(f"search.score.reference_student '{model_name}' failed its proxy training: {result.reason}")
    return float(result.top1)


def evaluate_candidate(candidate: Candidate, device: str, context: ObjectiveContext) -> TrialRow:
    """The trial row of ``candidate``; never raises for a bad one."""
    started = time.perf_counter()
    spec = context.space.decode(np.asarray(candidate.point))
    row: TrialRow = {
        "trial_id": candidate.trial_id,
        "iteration": candidate.iteration,
        "strategy": context.strategy,
        "status": "ok",
        "reason": None,
        "spec_json": spec.to_json(),
        "spec_hash": spec.hash,
        "block_sequence": spec.block_sequence,
        "encoding": [float(v) for v in candidate.point],
        "params": None, "macs": None, "latency_ms": None, "latency_cv": None, "resource_ratio": None,
        "proxy_accuracy": None, "score": None, "log_score": None,
        "trust_region": candidate.trust_region,
        "rung": candidate.rung, "fidelity": context.rungs[candidate.rung], "image_epochs": None,
        "epochs_trained": None, "curve": None, "estimated_accuracy": None,
        "predicted_accuracy": candidate.predicted_accuracy,
        "p_feasible": candidate.p_feasible,
        "guided": candidate.guided,
        "predicted_latency_ms": candidate.predicted_latency_ms,
        "seconds": None,
        "started_at": datetime.now(timezone.utc).isoformat(),
    }
    try:
        _evaluate_into(row, spec, candidate, device, context)
    except Exception as error:  # a build error, OOM, ...: recorded, never fatal for the search
        row.update(status="failed", reason=f"{type(error).__name__}: {error}".strip()[:500])
        logger.warning("Trial %d failed:\n%s", candidate.trial_id, traceback.format_exc(limit=5))
    row["seconds"] = time.perf_counter() - started
    return row


def _evaluate_into(row: TrialRow, spec: Any, candidate: Candidate, device: str,
                   context: ObjectiveContext) -> None:
    split = context.split
    model_spec = student_model_spec(spec, split.channels, split.num_classes, split.image_size)
    seed = context.seed + candidate.trial_id
    torch.manual_seed(seed)
    model = build_model(model_spec)
    costs = profile_model(model, split.input_shape(), context.profile, device, context.latency_reference)
    s = resource_ratio(costs["params"], costs["macs"], costs["latency_ms"], context.teacher_costs)
    row.update(params=costs["params"], macs=costs["macs"], latency_ms=costs["latency_ms"],
               latency_cv=costs["latency_cv"], resource_ratio=s)
    violation = context.budget.violation(costs["params"], costs["macs"], costs["latency_ms"], context.teacher_costs)
    if violation:
        row.update(status="over_budget", reason=violation)
        return
    row["image_epochs"] = images_seen(len(context.training_indices(candidate.rung)), context.proxy)
    rule = candidate.prune
    probe = None if rule is None else Probe(at=rule.at, loader=None, stop=lambda updates, top1: rule.stop(updates, top1, s))
    checkpoint = None if candidate.checkpoint is None else Checkpoint(Path(candidate.checkpoint),
                                                                      f"{spec.hash}-seed{seed}-rung{candidate.rung}")
    result = proxy_train(model, context, seed, device, candidate.rung, probe=probe, checkpoint=checkpoint)
    planned = rule.total_updates if rule else result.steps  # the updates of a run to the end
    share = result.steps / planned if planned else 0.0
    row.update(epochs_trained=context.proxy.epochs * share if context.proxy.epochs else None,
               curve=[[p["updates"], p["top1"]] for p in result.probes] or None)
    if result.status == "stopped":
        updates, top1 = result.probes[-1]["updates"], result.probes[-1]["top1"]
        row.update(status="pruned", image_epochs=round(row["image_epochs"] * share),
                   estimated_accuracy=rule.estimate(updates, top1),
                   reason=f"stopped after {updates} of {rule.total_updates} updates at {top1:.1f} %: "
                          f"P(better than the best) {rule.p_improve(updates, top1, s):.3f} < {rule.min_p_improve}")
        return
    if result.status != "ok":
        row.update(status="failed", reason=result.reason)
        return
    score = context.score.value(result.top1, s)
    row.update(proxy_accuracy=result.top1, score=score, log_score=math.log(score) if score > 0 else None)
