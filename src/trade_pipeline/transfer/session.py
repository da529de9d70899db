"""The whole transfer: split the targets, run every job on the configured executor."""
from __future__ import annotations

from functools import partial
from typing import Any

from trade_pipeline.job_runner import run_jobs
from trade_pipeline.models import ModelArtifact
from trade_pipeline.retrain.jobs import retrained_key
from trade_pipeline.transfer.config import TransferParams
from trade_pipeline.transfer.jobs import TransferContext, plan_jobs, run_job, target_split


def transferable(retrained: dict[str, ModelArtifact], retrain_results: list[dict[str, Any]],
                 trained_by: str) -> dict[str, ModelArtifact]:
    """The ``trained_by`` version of each model the retrain's job records list, by model name,
    in their order (searched students first)."""
    models = dict.fromkeys(result["model"] for result in retrain_results if result["trained_by"] == trained_by)
    return {model: retrained[retrained_key(model, trained_by)] for model in models
            if retrained_key(model, trained_by) in retrained}


def run_transfer(models: dict[str, ModelArtifact], image_size: int, params: TransferParams) -> list[dict[str, Any]]:
    """Fine-tunes every model (by name, e.g. :func:`transferable`) on every target (and trains
    it from scratch there); a row per job."""
    splits = {target.name: target_split(target, image_size) for target in params.targets}
    context = TransferContext(models, splits, params)
    jobs = plan_jobs(models, params)
    return run_jobs("Transfer", jobs, partial(run_job, context=context), params, ("model", "dataset", "init"))
