"""The whole transfer: split the targets, run every job on the configured executor."""
from __future__ import annotations

import logging
from functools import partial
from pathlib import Path
from typing import Any

from trade_pipeline.executors import create_executor, executor_options
from trade_pipeline.models import ModelArtifact
from trade_pipeline.retrain.config import SEARCHED_PREFIX
from trade_pipeline.serialization import set_aside
from trade_pipeline.tracking import ChildRuns, log_job
from trade_pipeline.transfer.config import TransferParams
from trade_pipeline.transfer.jobs import TransferContext, plan_jobs, run_job, target_split

logger = logging.getLogger(__name__)


def run_transfer(retrained: dict[str, ModelArtifact], image_size: int, params: TransferParams) -> list[dict[str, Any]]:
    """Fine-tunes the ``params.trained_by`` version of every retrained model on every target
    (and trains it from scratch there); a row per job."""
    suffix = f"-{params.trained_by}"
    models = {name.removesuffix(suffix): artifact for name, artifact in retrained.items() if name.endswith(suffix)}
    models = dict(sorted(models.items(), key=lambda item: (not item[0].startswith(SEARCHED_PREFIX), item[0])))
    splits = {target.name: target_split(target, image_size) for target in params.targets}
    context = TransferContext(models, splits, params)
    jobs = plan_jobs(models, params)
    folder = Path(params.checkpoint_dir)
    if not params.resume and folder.exists():
        logger.warning("Transferring from scratch; earlier checkpoints moved to %s", set_aside(folder))
    tracker = ChildRuns()

    def record(result: dict[str, Any]) -> None:
        logger.info("Transfer %s: %s, test top-1 %s", result["job"], result["status"],
                    "-" if result["top1"] is None else f"{result['top1']:.2f} %")
        log_job(tracker, result, ("model", "dataset", "init"))

    with create_executor(params.executor, **executor_options(params.executor, params.device, params.dask)) as executor:
        return executor.map(partial(run_job, context=context), jobs, on_result=record)
