"""The whole retrain: plan the jobs, run them on the configured executor, collect the weights."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from trade_pipeline.data.split import Split
from trade_pipeline.executors import create_executor, executor_options
from trade_pipeline.models import ModelArtifact
from trade_pipeline.retrain.config import RetrainParams
from trade_pipeline.retrain.jobs import RetrainContext, plan_jobs, run_job, trained_model
from trade_pipeline.serialization import set_aside
from trade_pipeline.tracking import ChildRuns, log_job

logger = logging.getLogger(__name__)


@dataclass
class RetrainOutcome:
    results: list[dict[str, Any]]  # one row per job (see ``jobs.run_job``)
    models: dict[str, ModelArtifact]  # ``<model>-<trained_by>``, trained with the first seed


def run_retrain(selected: list[dict[str, Any]], summary: dict[str, Any], split: Split, teacher: ModelArtifact,
                teacher_logits: dict[str, Any], params: RetrainParams) -> RetrainOutcome:
    """Trains every (model, trained_by, seed) job, resuming those with a matching checkpoint."""
    jobs = plan_jobs(selected, summary, split, params)
    context = RetrainContext(split, teacher, teacher_logits, params)
    folder = Path(params.checkpoint_dir)
    if not params.resume and folder.exists():
        logger.warning("Retraining from scratch; earlier checkpoints moved to %s", set_aside(folder))
    tracker = ChildRuns()
    finished: list[str] = []

    def record(result: dict[str, Any]) -> None:
        finished.append(result["job"])
        logger.info("Retrain %d/%d: %s %s, test top-1 %s", len(finished), len(jobs), result["job"], result["status"],
                    "-" if result["top1"] is None else f"{result['top1']:.2f} %")
        log_job(tracker, result, ("model", "architecture", "searched_by", "trained_by", "seed"))

    with create_executor(params.executor, **executor_options(params.executor, params.device, params.dask)) as executor:
        results = executor.map(partial(run_job, context=context), jobs, on_result=record)
    for result in results:
        if result["status"] != "ok":
            logger.warning("Retrain job %s failed: %s", result["job"], result["reason"])
    models = {f"{r['model']}-{r['trained_by']}": trained_model(r) for r in results
              if r["status"] == "ok" and r["seed"] == params.seeds[0]}
    return RetrainOutcome(results, models)
