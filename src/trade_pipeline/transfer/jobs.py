"""Transfer jobs: one (model, target dataset, init) fine-tuning run each, checkpointed every pass.

``transferred`` starts from the retrained weights with a new head for the target's classes
(and, when the channels differ, timm's adapted first convolution); ``scratch`` trains the same
architecture from random weights for reference (Table 7's comparison).
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from timm.models import adapt_input_conv

from trade_pipeline.data.loaders import make_loader
from trade_pipeline.data.sources import load_source
from trade_pipeline.data.split import Split, make_split
from trade_pipeline.models import ModelArtifact, build_model
from trade_pipeline.serialization import fingerprint
from trade_pipeline.training.checkpoint import Checkpoint
from trade_pipeline.training.engine import RunOptions, train_model
from trade_pipeline.transfer.config import TransferParams, TransferTarget

logger = logging.getLogger(__name__)
INITS = ("transferred", "scratch")


@dataclass(frozen=True)
class TransferJob:
    model: str  # <model> of the retrain (trade_1, a baseline's name)
    target: str
    init: str

    @property
    def name(self) -> str:
        return f"{self.model}-{self.target}-{self.init}"


@dataclass
class TransferContext:
    """The retrained models, the targets' splits and the settings; travels to Dask workers."""

    models: dict[str, ModelArtifact]  # by model name, the retrained version chosen by trained_by
    splits: dict[str, Split]
    params: TransferParams

    def checkpoint(self, job: TransferJob, model_spec: dict[str, Any]) -> Checkpoint:
        identity = {"model": model_spec, "init": job.init, "split": self.splits[job.target].fingerprint,
                    "recipe": self.params.recipe.model_dump(mode="json"),
                    "weights": _weights_digest(self.models[job.model]) if job.init == "transferred" else None}
        return Checkpoint(Path(self.params.checkpoint_dir) / f"{job.name}.safetensors", fingerprint(identity))


def target_splits(targets: list[TransferTarget], image_size: int) -> dict[str, Split]:
    """Each target's split (by name) at the students' input size (images are resized by the loaders)."""
    splits = {}
    for target in targets:
        data = target.data.model_copy(update={"image_size": image_size})
        splits[target.name] = make_split(data, load_source(data))
    return splits


def plan_jobs(models: dict[str, ModelArtifact], params: TransferParams) -> list[TransferJob]:
    inits = INITS if params.scratch else INITS[:1]
    return [TransferJob(model, target.name, init) for model in models for target in params.targets for init in inits]


def target_model(artifact: ModelArtifact, split: Split, init: str) -> ModelArtifact:
    """``artifact`` for ``split``: a fresh head for its classes, the first convolution adapted
    to its channels (timm's ``adapt_input_conv``); random weights throughout for ``scratch``."""
    source_spec = artifact.model_spec
    spec = {**source_spec, "num_classes": split.num_classes, "in_chans": split.channels}
    model = build_model(spec)
    if init == "scratch":
        return ModelArtifact(spec, model)
    classifier = model.pretrained_cfg["classifier"]
    state = {key: value for key, value in artifact.model.state_dict().items() if not key.startswith(f"{classifier}.")}
    changes = [f"a new {split.num_classes}-class head"]
    if split.channels != source_spec["in_chans"]:
        first_conv = f"{model.pretrained_cfg['first_conv']}.weight"
        state[first_conv] = adapt_input_conv(split.channels, state[first_conv], base_chans=source_spec["in_chans"])
        changes.append(f"the first convolution adapted from {source_spec['in_chans']} to {split.channels} channels")
    missing = model.load_state_dict(state, strict=False).missing_keys
    if any(not key.startswith(f"{classifier}.") for key in missing):  # only the head may start afresh
        raise RuntimeError(f"transferring {source_spec} left weights untransferred: {missing}")
    logger.info("Transfer: %s with %s", source_spec.get("name", "the student"), " and ".join(changes))
    return ModelArtifact(spec, model)


def run_job(job: TransferJob, device: str, context: TransferContext) -> dict[str, Any]:
    """A job's result row: which model on which target, how it went, its history."""
    split = context.splits[job.target]
    recipe = context.params.recipe
    torch.manual_seed(recipe.seed)
    artifact = target_model(context.models[job.model], split, job.init)
    train = make_loader(split, "train", recipe.batch_size, shuffle=True, seed=recipe.seed, augment=recipe.augment,
                        device=device, settings=recipe.loader)
    test = make_loader(split, "test", context.params.eval_batch_size, device=device, settings=recipe.loader)
    options = RunOptions(description=f"{job.name} ", eval_every=0,
                         checkpoint=context.checkpoint(job, artifact.model_spec))
    result = train_model(artifact.model, train, test, recipe, device, options=options)
    return {"job": job.name, "model": job.model, "trained_by": context.params.trained_by, "dataset": job.target,
            "init": job.init, "status": result.status,
            "reason": result.reason, "top1": result.top1, "top5": result.top5, "history": result.history,
            "seconds": result.seconds}


def _weights_digest(artifact: ModelArtifact) -> str:
    digest = hashlib.sha256()
    for key, value in sorted(artifact.model.state_dict().items()):
        digest.update(key.encode())
        digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]
