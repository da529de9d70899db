"""A real KedroSession run of the ``data`` pipeline with tracking off, in a throwaway project copy."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def test_data_pipeline_writes_a_versioned_split_with_the_documented_structure(project, run):
    run(project, ["data"])
    run(project, ["data"])
    versions = sorted((project / "data" / "05_model_input" / "split.npz").iterdir())
    assert len(versions) == 2
    from trade_pipeline.serialization import load_array_dict

    first, second = (load_array_dict(v / "split.npz") for v in versions)
    assert {"test", "mini_train", "mini_val", "classes", "image_size", "channels", "mean", "std",
            "source", "fingerprint"} == set(first)
    assert (len(first["test"]), len(first["mini_val"]), len(first["mini_train"])) == (1000, 1000, 3000)
    np.testing.assert_array_equal(first["mini_train"], second["mini_train"])
    assert _tracked_runs(project) == 0  # conf/test disables tracking


def _tracked_runs(project: Path) -> int:
    import mlflow

    if not (project / "mlflow.db").exists():
        return 0
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    return sum(len(client.search_runs([e.experiment_id])) for e in client.search_experiments())


