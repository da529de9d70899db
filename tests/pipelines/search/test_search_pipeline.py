"""``kedro run --pipelines=search`` for real: trials, nested MLflow runs, outputs, stale inputs."""
from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import yaml


def _latest(folder: Path) -> Path:
    return sorted(folder.iterdir())[-1] / folder.name


def _enable_tracking(project: Path) -> None:
    mlflow_yml = project / "conf" / "test" / "mlflow.yml"
    config = yaml.safe_load(mlflow_yml.read_text())
    config["tracking"]["disable_tracking"]["pipelines"] = []
    mlflow_yml.write_text(yaml.safe_dump(config))


def test_search_logs_every_candidate_as_a_row_and_a_nested_mlflow_run(project, run):
    run(project, ["data", "teacher"])
    _enable_tracking(project)
    run(project, ["search"])

    data = project / "data"
    trials = pd.read_parquet(_latest(data / "07_model_output" / "search_trials.parquet"))
    assert len(trials) == 4 and trials["spec_hash"].is_unique  # conf/test: search.n_trials=4
    assert {"status", "score", "proxy_accuracy", "params", "macs", "latency_ms", "block_sequence",
            "strategy"} <= set(trials.columns)
    selected = json.loads(_latest(data / "07_model_output" / "selected_architectures.json").read_text())
    assert 1 <= len(selected) <= 3  # conf/test: top_k 3 among trials reaching acc_target 25
    assert all(item["proxy_accuracy"] >= 25.0 for item in selected)
    assert [item["score"] for item in selected] == sorted(item["score"] for item in selected)
    for plot in ("search_progress", "pareto_front", "trust_region_trace"):
        assert (data / "08_reporting" / f"{plot}.png").stat().st_size > 0

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    runs = [r for e in client.search_experiments() for r in client.search_runs([e.experiment_id])]
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(children) == 4
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == {parents[0].info.run_id}
    child = children[0].data
    assert {"block_sequence", "stem_width"} <= set(child.params) and "macs" in child.metrics
    assert {"status", "trust_region", "strategy"} <= set(child.tags)


def test_teacher_logits_from_another_split_are_refused(project, run):
    run(project, ["data", "teacher"])
    run(project, ["data"], {"data": {"seed": 7}})  # a newer split the cache does not match
    with pytest.raises(Exception, match="teacher_logits were computed on another split"):
        run(project, ["search"])
