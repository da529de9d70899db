"""Nodes of the ``retrain`` pipeline: thin wrappers over ``trade_pipeline.retrain``."""
from __future__ import annotations

from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from trade_pipeline.contracts import SearchSummary, TeacherLogits
from trade_pipeline.data.split import Split
from trade_pipeline.models import ModelArtifact
from trade_pipeline.profiling import latency_reference
from trade_pipeline.retrain.config import RetrainParams
from trade_pipeline.retrain.export import StudentExport, student_export
from trade_pipeline.retrain.report import (
    model_costs,
    plot_accuracy_latency,
    report_markdown,
    retrain_metrics,
    retrain_report,
)
from trade_pipeline.retrain.session import run_retrain


def retrain_models(
    selected_architectures: list[dict[str, Any]], hard_label_selected_architectures: list[dict[str, Any]],
    search_summary: SearchSummary, split: Split, teacher_model: ModelArtifact, teacher_logits: TeacherLogits,
    retrain: RetrainParams,
) -> tuple[list[dict[str, Any]], dict[str, ModelArtifact]]:
    """Trains the selected students (of both searches) and the baselines in each mode and seed
    (resuming saved jobs); returns a row per job and the first seed's models by ``retrained_key``
    (``<model>-<trained_by>``)."""
    outcome = run_retrain(selected_architectures, search_summary, split, teacher_model, teacher_logits, retrain,
                          hard_label_selected_architectures)
    return outcome.results, outcome.models


def report_retrain(
    retrain_results: list[dict[str, Any]], retrained_models: dict[str, ModelArtifact], split: Split,
    search_summary: SearchSummary, teacher_model: ModelArtifact, teacher_profile: dict[str, Any],
    retrain: RetrainParams,
) -> tuple[pd.DataFrame, str, Figure, dict[str, dict[str, float]]]:
    """Table 2 (``retrain_report``, also as markdown), the Fig. 1 plot and the MLflow metrics."""
    reference = latency_reference(search_summary["teacher"], teacher_profile, teacher_model.model)
    costs = model_costs(retrain_results, retrained_models, split, retrain.profile, retrain.device, reference)
    report = retrain_report(retrain_results, costs, search_summary["teacher"])
    return report, report_markdown(report), plot_accuracy_latency(report), retrain_metrics(report)


def export_students(retrained_models: dict[str, ModelArtifact], split: Split,
                    retrain: RetrainParams) -> dict[str, StudentExport]:
    """Every retrained model as a timm folder and verified ONNX (written by the catalog)."""
    return {name: student_export(artifact, split, retrain.onnx_opset) for name, artifact in retrained_models.items()}
