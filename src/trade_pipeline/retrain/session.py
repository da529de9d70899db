"""The whole retrain: plan the jobs, run them on the configured executor, collect the weights."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from trade_pipeline.contracts import SearchSummary, TeacherLogits
from trade_pipeline.data.split import Split
from trade_pipeline.job_runner import run_jobs
from trade_pipeline.models import ModelArtifact
from trade_pipeline.retrain.config import RetrainParams
from trade_pipeline.retrain.jobs import RetrainContext, plan_jobs, retrained_key, run_job, trained_model


@dataclass
class RetrainOutcome:
    results: list[dict[str, Any]]  # one row per job (see ``jobs.run_job``)
    models: dict[str, ModelArtifact]  # by ``jobs.retrained_key``, trained with the first seed


def run_retrain(selected: list[dict[str, Any]], summary: SearchSummary, split: Split, teacher: ModelArtifact,
                teacher_logits: TeacherLogits, params: RetrainParams,
                hard_label_selected: Sequence[dict[str, Any]] = ()) -> RetrainOutcome:
    """Trains every (model, trained_by, seed) job, resuming those with a matching checkpoint;
    ``hard_label_selected`` are the students of the hard-label search, if it ran."""
    jobs = plan_jobs(selected, summary, split, params, hard_label_selected)
    context = RetrainContext(split, teacher, teacher_logits, params)
    results = run_jobs("Retrain", jobs, partial(run_job, context=context), params,
                       ("model", "architecture", "searched_by", "trained_by", "seed"))
    models = {retrained_key(r["model"], r["trained_by"]): trained_model(r) for r in results
              if r["status"] == "ok" and r["seed"] == params.seeds[0]}
    return RetrainOutcome(results, models)
