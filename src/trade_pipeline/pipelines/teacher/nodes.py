"""Nodes of the ``teacher`` pipeline: thin wrappers over ``trade_pipeline.teachers``.

Saved teachers come back from the partitioned catalog dataset as ``{name: loader}``; the
configured names (in their configured order) pick the partitions, so a teacher left on disk
by an earlier configuration is never compared or profiled by mistake.
"""
from __future__ import annotations

import logging
from typing import Any

from matplotlib.figure import Figure

from trade_pipeline.data.split import Split
from trade_pipeline.datasets.partitions import Partitions, load_partitions
from trade_pipeline.models import ModelArtifact
from trade_pipeline.teachers.config import TeacherPipelineParams
from trade_pipeline.teachers.logits import logit_cache
from trade_pipeline.teachers.plots import plot_similarity
from trade_pipeline.teachers.profile import profile_metrics, profile_teachers
from trade_pipeline.teachers.similarity import compare_models
from trade_pipeline.teachers.sources import prepare_teachers

logger = logging.getLogger(__name__)


def _load(teachers: Partitions[ModelArtifact], params: TeacherPipelineParams) -> dict[str, ModelArtifact]:
    return load_partitions(teachers, params.selected, "teacher", "teacher")


def build_teachers(teacher: TeacherPipelineParams, split: Split) -> tuple[dict[str, ModelArtifact], ModelArtifact]:
    """Loads or trains every teacher; returns all of them (``{name: ModelArtifact}``) and the search teacher."""
    artifacts = prepare_teachers(teacher, split)
    return artifacts, artifacts[teacher.search_teacher]


def profile_all_teachers(
    teachers: Partitions[ModelArtifact], split: Split, teacher: TeacherPipelineParams
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, float]]]:
    """``teacher_profile`` (costs, mini-val and test accuracy per teacher) and its MLflow metrics."""
    profiles = profile_teachers(_load(teachers, teacher), split, teacher)
    return profiles, profile_metrics(profiles)


def cache_teacher_logits(teacher_model: ModelArtifact, split: Split, teacher: TeacherPipelineParams) -> dict[str, Any]:
    """``teacher_logits``: the search teacher's logits on mini-train and mini-val."""
    return logit_cache(teacher.search_teacher, teacher_model.model, split, teacher.batch_size, teacher.device)


def compare_teachers(
    teachers: Partitions[ModelArtifact], split: Split, teacher: TeacherPipelineParams
) -> tuple[dict[str, Any], Figure]:
    """``teacher_similarity`` (Fig. 5 matrices on train and test) and its heatmaps."""
    models = {name: artifact.model for name, artifact in _load(teachers, teacher).items()}
    similarity = compare_models(models, split, teacher.batch_size, teacher.device)
    return similarity, plot_similarity(similarity)
