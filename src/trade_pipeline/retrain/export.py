"""Deployable exports of a retrained model: a timm folder and ONNX, checked against PyTorch.

The folder is what timm's own ``save_for_hf`` writes (``config.json`` + ``model.safetensors``,
with the dataset's input size, mean and std as the pretrained config), so
``timm.create_model("local-dir:<folder>", pretrained=True)`` rebuilds the model after
``import trade_pipeline``. ``model.onnx`` has a dynamic batch axis and is verified with
onnxruntime before it is kept.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from trade_pipeline.data.split import Split
from trade_pipeline.models import ModelArtifact

ONNX_FILE = "model.onnx"
ONNX_TOLERANCE = 1e-4  # max |onnxruntime - torch| on the logits, float32


class ExportError(RuntimeError):
    """An export that does not reproduce the PyTorch model."""


@dataclass
class StudentExport:
    """A model and the preprocessing it expects, ready to be written as a folder."""

    artifact: ModelArtifact
    data_config: dict[str, Any]
    opset: int


def student_export(artifact: ModelArtifact, split: Split, opset: int) -> StudentExport:
    return StudentExport(artifact, {"input_size": tuple(split.input_shape()[1:]), "mean": tuple(split.mean),
                                    "std": tuple(split.std), "crop_pct": 1.0, "interpolation": "bilinear"}, opset)


def write_export(folder: Path, export: StudentExport) -> None:
    """The timm folder and the verified ONNX file of ``export`` in ``folder``."""
    from timm.models import save_for_hf
    from timm.utils.onnx import onnx_export

    model = export.artifact.model.cpu().eval()
    save_for_hf(model, str(folder), safe_serialization=True, data_config=export.data_config)
    example = torch.randn(2, *export.data_config["input_size"], generator=torch.Generator().manual_seed(0))
    onnx_export(model, str(folder / ONNX_FILE), example_input=example, opset=export.opset, check=True)
    check_onnx(folder / ONNX_FILE, model, export.data_config["input_size"])


def check_onnx(path: Path, model: torch.nn.Module, input_size: tuple[int, ...], batch: int = 3) -> float:
    """Largest logit difference between onnxruntime and PyTorch on a batch of another size
    than the traced one (so the batch axis is dynamic); raises beyond ``ONNX_TOLERANCE``."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    images = torch.randn(batch, *input_size, generator=torch.Generator().manual_seed(1))
    (logits,) = session.run(None, {session.get_inputs()[0].name: images.numpy()})
    with torch.no_grad():
        expected = model(images).numpy()
    difference = float(np.abs(logits - expected).max())
    if logits.shape != expected.shape or not difference <= ONNX_TOLERANCE:
        raise ExportError(f"'{path}' does not reproduce the PyTorch model: output {logits.shape} vs "
                          f"{expected.shape}, max difference {difference:.3g} > {ONNX_TOLERANCE}")
    return difference
