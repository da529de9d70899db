"""A teacher's costs and accuracy: the denominators of Eq. 2 and the rows of Table 4.

The search scores a student by NP, FLOPS and latency *relative to the teacher*, so the
teacher is profiled exactly like a candidate (``profiling.profile_model`` at batch 1 on the
split's image size), and its accuracy is measured on the same mini-val the proxy task uses.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from torch import nn

from trade_pipeline.data.loaders import make_loader
from trade_pipeline.data.split import Split
from trade_pipeline.profiling import ProfileSettings, profile_model
from trade_pipeline.teachers.config import TeacherPipelineParams
from trade_pipeline.training.evaluation import evaluate

logger = logging.getLogger(__name__)
ACCURACY_PARTS = ("mini_val", "test")
PROFILE_METRICS = ("params", "macs", "latency_ms", "latency_cv", "mini_val_top1", "mini_val_top5", "test_top1",
                   "test_top5")


def profile_teacher(
    model: nn.Module,
    split: Split,
    profile: ProfileSettings,
    device: str = "cpu",
    batch_size: int = 256,
) -> dict[str, Any]:
    """``{params, macs, latency_ms, latency_cv, latency_method, <part>_top1, <part>_top5, device}``;
    accuracies in percent.

    Accuracies are measured on ``device``, latency on ``profile.device`` if set (where the
    student will be deployed, which need not be where it is trained), else on ``device``.
    ``latency_method`` is the one that measured it (after any fallback from ``cuda_graph``):
    candidates must be timed the same way for Eq. 2's latency ratio to mean anything.
    """
    model.to(device)
    accuracy = {}
    for part in ACCURACY_PARTS:
        top1, top5 = evaluate(model, make_loader(split, part, batch_size), device)
        accuracy.update({f"{part}_top1": top1, f"{part}_top5": top5})
    costs = profile_model(model, split.input_shape(), profile, device)
    return {**costs, **accuracy, "device": profile.on(device)}


def profile_metrics(profiles: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    """``{"<name>.<metric>": {"value", "step"}}``, MlflowMetricsHistoryDataset's format.

    The catalog adds the prefix, so MLflow shows ``teacher.<name>.test_top1`` and so on.
    """
    return {
        f"{name}.{metric}": {"value": float(profile[metric]), "step": 0}
        for name, profile in profiles.items()
        for metric in PROFILE_METRICS
    }


def profile_teachers(
    models: Mapping[str, Any], split: Split, params: TeacherPipelineParams
) -> dict[str, dict[str, Any]]:
    """``teacher_profile``: every teacher's profile plus its ``source`` and timm ``model``."""
    profiles = {}
    for name, artifact in models.items():
        profile = profile_teacher(artifact.model, split, params.profile, params.device, params.batch_size)
        teacher = params.teachers[name]
        profiles[name] = {**profile, "source": teacher.source, "model": teacher.model}
        logger.info(
            "Teacher '%s': test top-1 %.2f%%, %.2fM params, %.1fM MACs, %.2f ms (CV %.1f%%, %s)",
            name, profile["test_top1"], profile["params"] / 1e6, profile["macs"] / 1e6, profile["latency_ms"],
            100 * profile["latency_cv"], profile["latency_method"],
        )
    return profiles
