"""Nodes of the ``teacher`` pipeline: thin wrappers over ``trade_pipeline.teachers``.

Saved teachers come back from the partitioned catalog dataset as ``{name: loader}``; the
configured names (in their configured order) pick the partitions, so a teacher left on disk
by an earlier configuration is never compared or profiled by mistake.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from matplotlib.figure import Figure

from trade_pipeline.config import parse_params
from trade_pipeline.models import ModelArtifact
from trade_pipeline.teachers.config import TeacherPipelineParams
from trade_pipeline.teachers.logits import logit_cache
from trade_pipeline.teachers.plots import plot_similarity
from trade_pipeline.teachers.profile import profile_metrics, profile_teacher
from trade_pipeline.teachers.similarity import compare_models
from trade_pipeline.teachers.sources import TeacherError, prepare_teachers

logger = logging.getLogger(__name__)
Partitions = Mapping[str, Callable[[], ModelArtifact]]


def _params(teacher_params: dict[str, Any]) -> TeacherPipelineParams:
    return parse_params(TeacherPipelineParams, teacher_params, "teacher")


def _load(teachers: Partitions, params: TeacherPipelineParams) -> dict[str, ModelArtifact]:
    missing = [name for name in params.selected if name not in teachers]
    if missing:
        raise TeacherError(
            f"no saved teacher named {', '.join(missing)}; run the teacher pipeline with this configuration first"
        )
    return {name: teachers[name]() for name in params.selected}


def build_teachers(
    teacher_params: dict[str, Any], split: dict[str, Any]
) -> tuple[dict[str, ModelArtifact], ModelArtifact]:
    """Validates ``params:teacher``, then loads or trains every teacher.

    Returns all teachers (``{name: ModelArtifact}``) and the search teacher on its own.
    """
    params = _params(teacher_params)
    teachers = prepare_teachers(params, split)
    artifacts = {name: teacher.artifact for name, teacher in teachers.items()}
    return artifacts, artifacts[params.search_teacher]


def profile_teachers(
    teachers: Partitions, split: dict[str, Any], teacher_params: dict[str, Any]
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, float]]]:
    """``teacher_profile`` (costs, mini-val and test accuracy per teacher) and its MLflow metrics."""
    params = _params(teacher_params)
    profiles = {}
    for name, artifact in _load(teachers, params).items():
        profile = profile_teacher(artifact.model, split, params.profile, params.device, params.batch_size)
        teacher = params.teachers[name]
        profiles[name] = {**profile, "source": teacher.source, "model": teacher.model}
        logger.info(
            "Teacher '%s': test top-1 %.2f%%, %.2fM params, %.1fM MACs, %.2f ms",
            name, profile["test_top1"], profile["params"] / 1e6, profile["macs"] / 1e6, profile["latency_ms"],
        )
    return profiles, profile_metrics(profiles)


def cache_teacher_logits(
    teacher_model: ModelArtifact, split: dict[str, Any], teacher_params: dict[str, Any]
) -> dict[str, Any]:
    """``teacher_logits``: the search teacher's logits on mini-train and mini-val."""
    params = _params(teacher_params)
    return logit_cache(params.search_teacher, teacher_model.model, split, params.batch_size, params.device)


def compare_teachers(
    teachers: Partitions, split: dict[str, Any], teacher_params: dict[str, Any]
) -> tuple[dict[str, Any], Figure]:
    """``teacher_similarity`` (Fig. 5 matrices on train and test) and its heatmaps."""
    params = _params(teacher_params)
    models = {name: artifact.model for name, artifact in _load(teachers, params).items()}
    similarity = compare_models(models, split, params.batch_size, params.device)
    return similarity, plot_similarity(similarity)
