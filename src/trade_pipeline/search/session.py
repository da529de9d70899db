"""One TRADE search from the pipeline's inputs: check they agree, set up the objective, run.

What the ``search_students`` node does, as plain functions a notebook can call with the
datasets it loaded from the catalog.
"""
from __future__ import annotations

import logging
import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pandas as pd
import torch

from trade_pipeline.contracts import SearchSummary, TeacherLogits
from trade_pipeline.data.split import Split, stratified_fraction
from trade_pipeline.errors import InputError
from trade_pipeline.models import ModelArtifact
from trade_pipeline.profiling import latency_reference, resolve_method
from trade_pipeline.search.checkpoint import search_fingerprint
from trade_pipeline.search.config import SearchParams
from trade_pipeline.search.fidelity import images_seen
from trade_pipeline.search.objective import ObjectiveContext, reference_accuracy
from trade_pipeline.search.pareto import at_target, hypervolume_by_trial, select_along_front, select_architectures
from trade_pipeline.search.runner import run_search
from trade_pipeline.search.trials import guided_outcomes, ok_trials, trials_table
from trade_pipeline.students.space import SearchSpace

logger = logging.getLogger(__name__)
TEACHER_COSTS = ("params", "macs", "latency_ms")


@dataclass
class SearchOutcome:
    trials: pd.DataFrame
    trace: list[dict[str, Any]]
    summary: SearchSummary


def search_teacher(split: Split, teacher_profile: dict[str, Any], teacher_logits: TeacherLogits,
                   params: SearchParams) -> str:
    """The teacher the logits come from, after checking the three inputs belong together."""
    teacher = teacher_logits["teacher"]
    if teacher_logits.get("split_fingerprint") != split.fingerprint:
        raise InputError(
            f"teacher_logits were computed on another split (fingerprint {teacher_logits.get('split_fingerprint')}, "
            f"split has {split.fingerprint}); rerun `kedro run --pipelines=teacher` for this split "
            "or pin matching versions with --load-versions."
        )
    if teacher not in teacher_profile:
        raise InputError(f"teacher_logits come from '{teacher}', which teacher_profile does not list "
                         f"({sorted(teacher_profile)}); rerun `kedro run --pipelines=teacher`.")
    measured_on = teacher_profile[teacher].get("device", "cpu")
    profiled_on = params.profile.on(params.device)
    if torch.device(measured_on).type != torch.device(profiled_on).type:
        raise InputError(
            f"the teacher's latency was measured on {measured_on} but candidates are profiled on {profiled_on}: "
            "Eq. 2's latency ratio compares the two. Set teacher.profile.device and search.profile.device "
            "(or search.device) to the same kind of device."
        )
    measured_with = teacher_profile[teacher].get("latency_method", "eager")
    profiled_with = resolve_method(params.profile.latency_method, profiled_on)
    if measured_with != profiled_with:
        raise InputError(
            f"the teacher's latency was measured with {measured_with} timing but candidates would be timed with "
            f"{profiled_with}: Eq. 2's latency ratio compares the two. Set teacher.profile.latency_method and "
            "search.profile.latency_method alike (and rerun the teacher pipeline if its timing fell back)."
        )
    return teacher


def objective_context(split: Split, teacher_profile: dict[str, Any], teacher_logits: TeacherLogits,
                      params: SearchParams, teacher_model: ModelArtifact | None = None) -> ObjectiveContext:
    """Everything a candidate's evaluation needs, with the accuracy target resolved. With the
    search teacher's ``teacher_model`` candidates are timed against it (the search does);
    without it each is timed on its own."""
    teacher = search_teacher(split, teacher_profile, teacher_logits, params)
    context = ObjectiveContext(
        space=SearchSpace.from_config(params.space).at_resolution(split.image_size),
        split=split,
        proxy_indices=stratified_fraction(split, "mini_train", params.proxy.data_fraction, params.seed),
        teacher_logits=teacher_logits,
        teacher_costs={key: float(teacher_profile[teacher][key]) for key in TEACHER_COSTS},
        proxy=params.proxy,
        profile=params.profile,
        budget=params.budget,
        epsilon=params.score.epsilon,
        acc_target=params.score.acc_target or math.nan,
        strategy=params.strategy,
        seed=params.seed,
        objective=params.objective,
        latency_reference=None if teacher_model is None else latency_reference(teacher, teacher_profile, teacher_model.model),
        rungs=tuple(params.fidelity.ladder),
        rung_indices=tuple(stratified_fraction(split, "mini_train", params.proxy.data_fraction * share, params.seed)
                           for share in params.fidelity.ladder[:-1]),
    )
    if params.score.reference_student:
        context.acc_target = reference_accuracy(params.score.reference_student, context, params.device)
        logger.info("Accuracy target = proxy top-1 of %s = %.2f%%", params.score.reference_student, context.acc_target)
    return context


def run_trade_search(split: Split, teacher_profile: dict[str, Any], teacher_logits: TeacherLogits,
                     params: SearchParams, teacher_model: ModelArtifact | None = None) -> SearchOutcome:
    """Runs (or resumes) the search: every trial, the trust-region trace and a summary."""
    context = objective_context(split, teacher_profile, teacher_logits, params, teacher_model)
    teacher = teacher_logits["teacher"]
    result = run_search(context, params, search_fingerprint(params, teacher, split.fingerprint))
    trials = at_target(result.trials, context.score) if params.objective == "pareto" else result.trials
    reference = params.pareto.reference(context.budget, split.num_classes)
    hypervolume = hypervolume_by_trial(trials[trials["fidelity"] == 1.0], reference)
    nothing_inside = len(hypervolume) and hypervolume.iloc[-1] == 0 and (trials["status"] == "ok").any()
    if params.objective == "pareto" and nothing_inside:
        logger.warning("No student lies inside the hypervolume's reference (accuracy above %.3g %%, s below %.3g): the "
                       "front search had nothing to grow. Set search.pareto.max_s (or min_accuracy) to take them in.",
                       *reference)
    counts = trials["status"].value_counts().to_dict()
    best = ok_trials(trials)["proxy_accuracy"].max()
    by_rung = trials.groupby("rung")
    guided, guided_met = guided_outcomes(trials, context.acc_target)
    pruned = trials[trials["status"] == "pruned"]
    stopped_at = Counter(str(curve[-1][0]) for curve in pruned["curve"])
    full_run = images_seen(len(context.proxy_indices), context.proxy)
    summary = SearchSummary(teacher=teacher, acc_target=context.acc_target, n_trials=int((trials["rung"] == 0).sum()),
                            best_proxy_accuracy=None if math.isnan(best) else float(best),
                            status_counts={str(k): int(v) for k, v in counts.items()},
                            filtered_over_budget=result.filtered, latency_model_error=result.latency_error,
                            evaluations_per_rung={str(k): int(v) for k, v in by_rung.size().items()},
                            image_epochs_per_rung={str(k): int(v) for k, v in by_rung["image_epochs"].sum().items()},
                            guided_evaluations=guided, guided_met_target=guided_met,
                            pruned_at_updates=dict(sorted(stopped_at.items(), key=lambda item: int(item[0]))),
                            image_epochs_saved=int(len(pruned) * full_run - pruned["image_epochs"].sum()),
                            objective=params.objective, hypervolume_reference=list(reference),
                            hypervolume=float(hypervolume.iloc[-1]) if len(hypervolume) else 0.0)
    return SearchOutcome(trials, result.trace, summary)


def run_hard_label_search(split: Split, teacher_profile: dict[str, Any], teacher_logits: TeacherLogits,
                          params: SearchParams, teacher_model: ModelArtifact | None = None
                          ) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Table 2's question "does searching with the teacher matter?": with ``search.hard_label_search``
    the same search again on hard labels, its trials and its top-k students; otherwise nothing."""
    if not params.hard_label_search:
        return trials_table(), []
    variant = params.hard_label_variant()
    logger.info("Searching again with hard labels (search.proxy.kd_alpha 0), state in %s", variant.state_dir)
    outcome = run_trade_search(split, teacher_profile, teacher_logits, variant, teacher_model)
    return outcome.trials, students_to_retrain(outcome.trials, variant, outcome.summary["acc_target"])


def students_to_retrain(trials: pd.DataFrame, params: SearchParams, acc_target: float) -> list[dict[str, Any]]:
    """The students to retrain: Eq. 2's ``top_k`` at ``acc_target``, or, when the search grew the
    accuracy-``s`` front (``search.objective: pareto``), ``top_k`` spread along it."""
    if params.objective == "pareto":
        return select_along_front(trials, params.top_k, acc_target)
    return select_architectures(trials, params.top_k, acc_target)
