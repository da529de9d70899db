"""Retrain jobs: one (model, trained_by, seed) run each, independent, checkpointed every epoch.

Each job trains on the full training data (mini-train + mini-val) and is evaluated on test
(paper §4). A job is plain data, so an executor can run it in this process or on a Dask
worker; its checkpoint makes it resumable after a kill and holds the final weights.
"""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from trade_pipeline.contracts import SearchSummary, TeacherLogits
from trade_pipeline.data.loaders import make_loader
from trade_pipeline.data.split import PARTS, Split
from trade_pipeline.errors import InputError
from trade_pipeline.models import ModelArtifact, build_model, student_model_spec, timm_model_spec, with_regularisation
from trade_pipeline.retrain.config import SEARCHED_PREFIX, RetrainParams, RetrainRecipe
from trade_pipeline.retrain.distributed import train_distributed, wrap_model
from trade_pipeline.serialization import fingerprint, load_tensor_state
from trade_pipeline.students.spec import ArchitectureSpec
from trade_pipeline.training.checkpoint import Checkpoint
from trade_pipeline.training.engine import RunOptions, TrainResult, train_model
from trade_pipeline.training.soft_labels import SoftLabels

logger = logging.getLogger(__name__)
SEARCHED, SEARCHED_HARD_LABEL, PREDEFINED = "trade", "trade_hl", "predefined"  # Table 2's "searched by"


class EmptySelectionError(InputError):
    """The search selected no architecture to retrain."""


@dataclass(frozen=True)
class RetrainJob:
    """One training run: ``model`` (``trade_1``… or a baseline's name) trained one way with one seed."""

    model: str
    searched_by: str
    architecture: str  # block sequence (Table 6) or timm name
    model_spec: dict[str, Any]
    trained_by: str
    seed: int
    recipe: RetrainRecipe
    rank: int | None = None  # a searched student's place in its search's selection (1 = best); None for a baseline

    @property
    def name(self) -> str:
        return f"{self.model}-{self.trained_by}-seed{self.seed}"


@dataclass
class RetrainContext:
    """What every job reads besides its own settings; plain data, so it travels to Dask workers."""

    split: Split
    teacher: ModelArtifact
    teacher_logits: TeacherLogits
    params: RetrainParams

    @property
    def data_fingerprint(self) -> str:
        """The split and the teacher's soft labels: a checkpoint trained on others is refused."""
        digest = hashlib.sha256(self.split.fingerprint.encode())
        for part in ("mini_train", "mini_val"):
            digest.update(np.ascontiguousarray(self.teacher_logits[part]["logits"]).tobytes())
        return digest.hexdigest()[:16]

    def checkpoint(self, job: RetrainJob) -> Checkpoint:
        identity = {"model": job.model_spec, "recipe": job.recipe.model_dump(mode="json"),
                    "trained_by": job.trained_by, "data": self.data_fingerprint}
        return Checkpoint(Path(self.params.checkpoint_dir) / f"{job.name}.safetensors", fingerprint(identity))


def plan_jobs(selected: list[dict[str, Any]], summary: SearchSummary, split: Split, params: RetrainParams,
              hard_label_selected: Sequence[dict[str, Any]] = ()) -> list[RetrainJob]:
    """The searched students (the first ``params.students`` selected, ``trade_1``…; then those of
    the hard-label search, ``trade_hl_1``…) and the baselines, each in every ``trained_by`` mode
    and seed."""
    if not selected:
        best = summary.get("best_proxy_accuracy")
        raise EmptySelectionError(
            f"the search selected no student: no trial reached search.score.acc_target={summary['acc_target']:.2f} % "
            f"(the best proxy top-1 was {'not recorded' if best is None else f'{best:.2f} %'}). Lower "
            "search.score.acc_target, or raise search.n_trials or search.proxy.epochs, and rerun the search."
        )
    models = [
        (f"{prefix}{rank}", searched_by, entry["block_sequence"],
         student_model_spec(ArchitectureSpec.from_dict(entry["spec"]), split.channels, split.num_classes,
                            split.image_size), rank)
        for prefix, searched_by, students in ((SEARCHED_PREFIX, SEARCHED, selected),
                                              (f"{SEARCHED_PREFIX}hl_", SEARCHED_HARD_LABEL, hard_label_selected))
        for rank, entry in enumerate(students[: params.students], start=1)
    ]
    models += [
        (baseline.name, PREDEFINED, baseline.model,
         timm_model_spec(baseline.model, split.channels, split.num_classes, split.image_size, **baseline.model_kwargs),
         None)
        for baseline in params.baselines
    ]
    return [
        RetrainJob(model, searched_by, architecture,
                   with_regularisation(spec, params.recipe.drop_rate, params.recipe.drop_path_rate), trained_by, seed,
                   params.recipe.model_copy(update={"seed": seed, **({"kd_alpha": 0.0} if trained_by == "hard_label"
                                                                   else {})}), rank)
        for model, searched_by, architecture, spec, rank in models
        for trained_by in params.trained_by
        for seed in params.seeds
    ]


def distillation_source(job: RetrainJob, context: RetrainContext) -> tuple[SoftLabels | None, torch.nn.Module | None]:
    """Cached teacher logits, or the teacher itself when batches are augmented (the cache only
    knows the un-augmented images); neither for hard-label runs."""
    if job.trained_by == "hard_label":
        return None, None
    if job.recipe.augment.active:
        return None, context.teacher.model
    parts = [context.teacher_logits[part] for part in PARTS if part != "test"]
    return SoftLabels(np.concatenate([p["indices"] for p in parts]), np.concatenate([p["logits"] for p in parts])), None


def train_job(job: RetrainJob, device: str, context: RetrainContext, rank: int = 0, world_size: int = 1
              ) -> TrainResult:
    """Trains (or resumes, or just reloads) one job; ``rank`` / ``world_size`` shard each batch
    under DDP, where only rank 0 writes the checkpoint."""
    recipe = job.recipe
    torch.manual_seed(job.seed)
    model = build_model(job.model_spec)
    if world_size > 1:
        model = wrap_model(model, device)
    split = context.split
    train = make_loader(split, "train", recipe.batch_size, shuffle=True, seed=job.seed, augment=recipe.augment,
                        device=device, settings=recipe.loader, shard=(rank, world_size))
    test = make_loader(split, "test", context.params.eval_batch_size, device=device, settings=recipe.loader)
    soft_labels, teacher = distillation_source(job, context)
    checkpoint = context.checkpoint(job)
    options = RunOptions(progress=rank == 0, description=f"{job.name} ", checkpoint=checkpoint,
                         save_checkpoints=rank == 0)
    return train_model(model, train, test, recipe, device, soft_labels, teacher, options)


def run_job(job: RetrainJob, device: str, context: RetrainContext) -> dict[str, Any]:
    """A job's result row: what it is, how it went, where its weights are (its checkpoint)."""
    if context.params.ddp.nproc > 1:
        result = train_distributed(train_job, job, context)
    else:
        result = train_job(job, device, context)
    return {
        "job": job.name, "model": job.model, "searched_by": job.searched_by, "rank": job.rank,
        "architecture": job.architecture,
        "trained_by": job.trained_by, "seed": job.seed, "status": result.status, "reason": result.reason,
        "top1": result.top1, "top5": result.top5, "history": result.history, "seconds": result.seconds,
        "model_spec": job.model_spec, "checkpoint": str(context.checkpoint(job).path),
    }


def retrained_key(model: str, trained_by: str) -> str:
    """A retrained model's name in ``retrained_models`` and ``student_exports``."""
    return f"{model}-{trained_by}"


def trained_model(result: dict[str, Any]) -> ModelArtifact:
    """The weights a finished job left in its checkpoint."""
    model = build_model(result["model_spec"])
    model.load_state_dict(_unwrapped(load_tensor_state(result["checkpoint"])["trainer"]["model"]))
    return ModelArtifact(result["model_spec"], model.eval())


def _unwrapped(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A DDP model's weights without its ``module.`` prefix."""
    return {key.removeprefix("module."): value for key, value in state.items()}
