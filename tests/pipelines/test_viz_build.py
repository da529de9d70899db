"""``kedro viz build``: the static kedro-viz site shows every pipeline, each with its nodes and
datasets, every dataset in the layer the catalog gives it, the layers in the order data flows."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from trade_pipeline.pipeline_registry import all_pipelines

from .conftest import copy_project


def test_kedro_viz_build_shows_every_pipeline_with_its_datasets_in_their_layers(tmp_path):
    project = copy_project(tmp_path / "project")
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "1", "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}
    result = subprocess.run([sys.executable, "-m", "kedro", "viz", "build"], cwd=project, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]

    registered = all_pipelines()
    registered["__default__"] = sum(registered.values())
    assert set(registered) >= {"data", "teacher", "search", "retrain", "transfer", "report"}
    for name, pipeline in registered.items():
        built = json.loads((project / "build" / "api" / "pipelines" / name).read_text())
        nodes = {node["name"]: node for node in built["nodes"]}
        datasets = {dataset for dataset in pipeline.datasets() if not dataset.startswith("params:")}
        assert {node.name for node in pipeline.nodes} | datasets <= set(nodes), name
        unlayered = sorted(dataset for dataset in datasets if not nodes[dataset]["layer"])
        assert not unlayered, f"{name}: no kedro-viz layer in the catalog for {unlayered}"
    everything = json.loads((project / "build" / "api" / "pipelines" / "__default__").read_text())
    assert everything["layers"] == ["model_input", "models", "model_output", "reporting"]  # none if they cycle
