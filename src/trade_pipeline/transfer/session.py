"""The whole transfer: every (model, target, init) job on the configured executor."""
from __future__ import annotations

from functools import partial
from typing import Any

from trade_pipeline.data.split import Split
from trade_pipeline.job_runner import run_jobs
from trade_pipeline.models import ModelArtifact
from trade_pipeline.retrain.jobs import retrained_key
from trade_pipeline.transfer.config import TransferParams
from trade_pipeline.transfer.jobs import TransferContext, plan_jobs, run_job


def transferable(retrained: dict[str, ModelArtifact], retrain_results: list[dict[str, Any]],
                 trained_by: str) -> dict[str, ModelArtifact]:
    """The ``trained_by`` version of each model the retrain's job records list, by model name,
    in their order (searched students first)."""
    models = dict.fromkeys(result["model"] for result in retrain_results if result["trained_by"] == trained_by)
    return {model: retrained[retrained_key(model, trained_by)] for model in models
            if retrained_key(model, trained_by) in retrained}


def run_transfer(models: dict[str, ModelArtifact], splits: dict[str, Split], params: TransferParams
                 ) -> list[dict[str, Any]]:
    """Fine-tunes every model (by name, e.g. :func:`transferable`) on every target (its split
    from ``jobs.target_splits``, by target name) and trains it from scratch there; a row per job."""
    context = TransferContext(models, splits, params)
    jobs = plan_jobs(models, params)
    return run_jobs("Transfer", jobs, partial(run_job, context=context), params, ("model", "dataset", "init"))
