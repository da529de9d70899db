"""Folders of models: every retrained model of a run (versioned), and their deployable exports.

A folder is written next to its final place and renamed into it, so a crash never leaves a
half-written set where a complete one was.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from kedro.io.core import AbstractDataset

from trade_pipeline.datasets.local_files import _LocalVersionedDataset
from trade_pipeline.serialization import load_model_artifact, save_model_artifact

SUFFIX = ".safetensors"


def write_folder(target: Path, write: Any) -> None:
    """Calls ``write(temp_folder)`` and swaps the result in for ``target`` (kept on failure)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        write(temp)
        if target.exists():
            old = target.with_name(f".{target.name}.old")
            os.replace(target, old)
            os.replace(temp, target)
            shutil.rmtree(old)
        else:
            os.replace(temp, target)
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def _save_models(path: Path, models: dict[str, Any]) -> None:
    write_folder(path, lambda folder: [save_model_artifact(folder / f"{name}{SUFFIX}", artifact)
                                       for name, artifact in models.items()])


def _load_models(path: Path) -> dict[str, Any]:
    return {file.name.removesuffix(SUFFIX): load_model_artifact(file) for file in sorted(path.glob(f"*{SUFFIX}"))}


class SafeModelFolderDataset(_LocalVersionedDataset):
    """``{name: ModelArtifact}`` as one folder of spec + safetensors files per version."""

    _save_fn = staticmethod(_save_models)
    _load_fn = staticmethod(_load_models)


class StudentExportsDataset(AbstractDataset[dict[str, Any], dict[str, Path]]):
    """``{name: StudentExport}`` written as ``<path>/<name>/`` (timm folder + ONNX), and logged as
    MLflow artifacts under ``artifact_path`` when a run is active. Loads as ``{name: folder}``."""

    def __init__(self, *, path: str, artifact_path: str = "exports", metadata: dict | None = None) -> None:
        self._path = Path(path)
        self._artifact_path = artifact_path
        self.metadata = metadata

    def load(self) -> dict[str, Path]:
        return {folder.name: folder for folder in sorted(self._path.iterdir()) if folder.is_dir()}

    def save(self, data: dict[str, Any]) -> None:
        import mlflow

        from trade_pipeline.retrain.export import write_export

        write_folder(self._path, lambda root: [write_export(root / name, export) for name, export in data.items()])
        if mlflow.active_run() is not None:
            mlflow.log_artifacts(str(self._path), self._artifact_path)

    def _exists(self) -> bool:
        return self._path.is_dir()

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path), "artifact_path": self._artifact_path}
