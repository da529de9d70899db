"""Table 2 from job rows, and exports that rebuild the very model (timm local-dir, ONNX)."""
from __future__ import annotations

import numpy as np
import pytest
import timm
import torch

from trade_pipeline.models import ModelArtifact, build_model, student_model_spec
from trade_pipeline.retrain.export import ExportError, check_onnx, student_export, write_export
from trade_pipeline.retrain.report import (
    REPORT_COLUMNS,
    distillation_gains,
    plot_accuracy_latency,
    report_markdown,
    retrain_metrics,
    retrain_report,
    search_teacher_sentence,
)
from trade_pipeline.students.spec import ArchitectureSpec

from .conftest import STUDENT

COSTS = {"trade_1": {"params": 2e4, "macs": 3e5, "latency_ms": 0.8},
         "resnet": {"params": 5e4, "macs": 9e5, "latency_ms": 1.2}}


def _row(model: str, trained_by: str, seed: int, top1: float, status: str = "ok") -> dict:
    """A job's result row as run_job writes it (``trade_N`` / ``trade_hl_N``: the N-th student of a search)."""
    searched_by = "trade_hl" if model.startswith("trade_hl_") else "trade" if model.startswith("trade_") else "predefined"
    rank = int(model.rsplit("_", 1)[-1]) if searched_by != "predefined" else None
    return {"model": model, "searched_by": searched_by, "rank": rank, "architecture": "FMB-MB",
            "trained_by": trained_by, "seed": seed, "status": status, "top1": top1, "top5": 99.0}


def test_the_report_has_table_2s_columns_and_averages_the_seeds_that_finished():
    results = [_row("resnet", "distill", 0, 90.0), _row("trade_1", "hard_label", 0, 91.0),
               _row("trade_1", "hard_label", 1, 93.0), _row("trade_1", "distill", 0, 94.0),
               _row("trade_1", "distill", 1, 0.0, status="failed"), _row("resnet", "hard_label", 0, 89.5)]
    report = retrain_report(results, COSTS, teacher="efficientnetv2")
    assert tuple(report.columns) == REPORT_COLUMNS
    assert report[["model", "trained_by"]].values.tolist() == [
        ["trade_1", "hard_label"], ["trade_1", "distill"], ["resnet", "hard_label"], ["resnet", "distill"]]
    first = report.iloc[0]
    assert (first.top1, first.top1_std, first.seeds) == (92.0, pytest.approx(np.std([91, 93], ddof=1)), 2)
    assert report.iloc[1].seeds == 1  # the failed seed does not count
    assert (first.macs, first.params, first.latency_ms, first.teacher) == (3e5, 2e4, 0.8, "efficientnetv2")
    assert distillation_gains(report).to_dict() == {"resnet": 0.5, "trade_1": 2.0}
    markdown = report_markdown(report)
    assert "| efficientnetv2 | trade_1 | FMB-MB | 0.30 | 0.020 | 0.80 | TRADE (D) | HL | 92.00 ± 1.41 |" in markdown
    assert "resnet +0.50 pt, trade_1 +2.00 pt" in markdown
    assert retrain_metrics(report)["trade_1.distill.top1"] == {"value": 94.0, "step": 0}
    assert len(plot_accuracy_latency(report).axes[0].collections) == 4  # searched/predefined x HL/D


def test_with_a_hard_label_search_table_2_has_its_four_row_kinds_and_asks_whether_the_teacher_mattered():
    results = [_row("resnet", "distill", 0, 90.0), _row("trade_hl_1", "distill", 0, 92.5),
               _row("trade_1", "distill", 0, 94.0), _row("trade_hl_1", "hard_label", 0, 91.0),
               _row("trade_1", "hard_label", 0, 90.0)]
    costs = {**COSTS, "trade_hl_1": COSTS["trade_1"]}
    report = retrain_report(results, costs, teacher="efficientnetv2")
    assert report[["model", "trained_by"]].values.tolist() == [
        ["trade_1", "hard_label"], ["trade_1", "distill"], ["trade_hl_1", "hard_label"], ["trade_hl_1", "distill"],
        ["resnet", "distill"]]
    assert search_teacher_sentence(report).endswith("rank 1 HL -1.00 pt, rank 1 D +1.50 pt.")
    markdown = report_markdown(report)
    assert "| TRADE (HL) | D | 92.50 |" in markdown and "| - | D | 90.00 |" in markdown
    assert search_teacher_sentence(retrain_report(results[:1], COSTS, teacher="t")) is None
    # the rank is the job's, not read from the model's name
    renamed = [{**row, "model": row["model"].replace("trade_hl_1", "second-search")} for row in results]
    renamed_report = retrain_report(renamed, {**costs, "second-search": COSTS["trade_1"]}, teacher="efficientnetv2")
    assert search_teacher_sentence(renamed_report) == search_teacher_sentence(report)


def _student(digits) -> ModelArtifact:
    spec = student_model_spec(ArchitectureSpec.from_dict(STUDENT["spec"]), digits.channels, digits.num_classes,
                              digits.image_size)
    torch.manual_seed(0)
    return ModelArtifact(spec, build_model(spec).eval())


def test_an_export_rebuilds_with_timm_and_runs_in_onnxruntime_like_pytorch(digits, tmp_path):
    artifact = _student(digits)
    write_export(tmp_path / "trade_1-distill", student_export(artifact, digits, opset=17))
    rebuilt = timm.create_model(f"local-dir:{tmp_path / 'trade_1-distill'}", pretrained=True).eval()
    images = torch.randn(5, 1, 8, 8)
    with torch.no_grad():
        assert torch.equal(rebuilt(images), artifact.model(images))
    config = timm.data.resolve_data_config({}, model=rebuilt)
    assert config["input_size"] == (1, 8, 8) and tuple(config["mean"]) == pytest.approx(digits.mean)
    assert check_onnx(tmp_path / "trade_1-distill" / "model.onnx", artifact.model, (1, 8, 8), batch=7) < 1e-4


def test_an_onnx_file_of_another_model_fails_the_check(digits, tmp_path):
    artifact = _student(digits)
    write_export(tmp_path / "a", student_export(artifact, digits, opset=17))
    other = _student(digits).model
    torch.nn.init.constant_(other.head.weight, 1.0)
    with pytest.raises(ExportError, match="does not reproduce the PyTorch model"):
        check_onnx(tmp_path / "a" / "model.onnx", other, (1, 8, 8))
