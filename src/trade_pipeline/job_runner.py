"""Independent, checkpointed training jobs on the configured executor: what the retrain and the
transfer share.

Each stage plans its jobs and says how one runs; this module holds the settings both declare
(where jobs run, where their checkpoints go, whether to resume) and the loop around them:
set earlier checkpoints aside when not resuming, run every job, log each result the moment it
arrives and as a child MLflow run, warn about the ones that failed.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import Field

from trade_pipeline.config import Device, StrictModel
from trade_pipeline.executors import DaskParams, create_executor, executor_options
from trade_pipeline.serialization import set_aside
from trade_pipeline.tracking import ChildRuns, log_job

logger = logging.getLogger(__name__)
Job = TypeVar("Job")


class JobSettings(StrictModel):
    """Where a stage's jobs run and keep their checkpoints: ``device`` or a Dask cluster
    (``executor``, ``dask``), ``checkpoint_dir`` (a job resumes from its own checkpoint when
    ``resume``; otherwise the folder is set aside first) and the batch size of test passes."""

    device: Device = "cpu"
    executor: Literal["local", "dask"] = "local"
    dask: DaskParams = DaskParams()
    eval_batch_size: int = Field(default=500, ge=1)
    checkpoint_dir: str
    resume: bool = True


def run_jobs(stage: str, jobs: Sequence[Job], run: Callable[[Job, str], dict[str, Any]], settings: JobSettings,
             tracked: Sequence[str]) -> list[dict[str, Any]]:
    """``run(job, device)`` for every job, in order; each result row (``job``, ``status``,
    ``reason``, ``top1``, ``top5``, ``seconds``, ``history`` and the ``tracked`` keys) is logged as
    a child run of the active MLflow run as it arrives."""
    folder = Path(settings.checkpoint_dir)
    if not settings.resume and folder.exists():
        logger.warning("%s from scratch; earlier checkpoints moved to %s", stage, set_aside(folder))
    tracker = ChildRuns()
    finished: list[str] = []

    def record(result: dict[str, Any]) -> None:
        finished.append(result["job"])
        logger.info("%s %d/%d: %s %s, test top-1 %s", stage, len(finished), len(jobs), result["job"],
                    result["status"], "-" if result["top1"] is None else f"{result['top1']:.2f} %")
        log_job(tracker, result, tracked)

    options = executor_options(settings.executor, settings.device, settings.dask)
    with create_executor(settings.executor, **options) as executor:
        results = executor.map(run, jobs, on_result=record)
    for result in results:
        if result["status"] != "ok":
            logger.warning("%s job %s failed: %s", stage, result["job"], result["reason"])
    return results
