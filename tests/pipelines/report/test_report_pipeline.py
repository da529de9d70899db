"""``kedro run --pipelines=data,teacher,search,report`` for real, tracked: the run report with
the stages not run yet, the MLflow run a user compares, the report rebuilt alone, and the
results notebook executed top to bottom against the saved datasets.

Runs go through the CLI in a subprocess, as a user's do: kedro-mlflow keeps a finished run
active in its process (``run.nested: True`` reopens it per node), so an in-process session
would leave it to the next test module.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import mlflow
import nbformat
import pytest
from nbclient import NotebookClient

from trade_pipeline.hooks import EXPERIMENT_KIND
from trade_pipeline.pipeline_registry import all_pipelines

from ..conftest import PROJECT, copy_project, enable_tracking

FIRST_RUN = "tiny_cnn · composite · seed 0 · data+teacher+search+report"  # conf/test's teacher, base strategy and seed


def kedro_run(project: Path, pipelines: str) -> None:
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "1", "MLFLOW_TRACKING_URI": f"sqlite:///{project / 'mlflow.db'}",
           "OMP_NUM_THREADS": "1"}  # one torch thread, as tests/conftest.py sets in process
    result = subprocess.run([sys.executable, "-m", "kedro", "run", "--env=test", f"--pipelines={pipelines}"],
                            cwd=project, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.fixture(scope="module")
def reported(tmp_path_factory):
    """A project copy where data, teacher, search and report ran as one tracked ``kedro run``."""
    project = copy_project(tmp_path_factory.mktemp("project"))
    enable_tracking(project)
    kedro_run(project, "data,teacher,search,report")
    return project


def _runs(project: Path) -> dict[str, mlflow.entities.Run]:
    """Top-level runs by name."""
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    (experiment,) = [e for e in client.search_experiments() if e.name == "trade_pipeline"]
    return {run.info.run_name: run for run in client.search_runs([experiment.experiment_id])
            if "mlflow.parentRunId" not in run.data.tags}


def test_kedro_run_builds_the_report_last_from_every_stage():
    everything = sum(all_pipelines().values())
    (last,) = everything.nodes[-1:]
    assert last.name == "build_run_report" and {"retrain_report", "transfer_report"} <= set(last.inputs)


def test_the_report_is_one_self_contained_page_with_a_markdown_twin(reported):
    folder = reported / "data" / "08_reporting"
    page = (folder / "run_report.html").read_text()
    assert re.findall(r"<h2[^>]*>([^<]+)</h2>", page) == ["Teachers", "Search", "Retrain", "Transfer"]
    assert len(re.findall(r'<img [^>]*src="data:image/png;base64,', page)) == 4  # Fig. 5, progress, Fig. 6, TR
    assert "<td>tiny_cnn (search)</td>" in page and "Table 6 analog" in page
    assert "Not run yet: <code>kedro run --pipelines=retrain</code>" in page
    assert "Not run yet: <code>kedro run --pipelines=transfer</code>" in page

    markdown = (folder / "run_report.md").read_text()
    links = re.findall(r"!\[[^]]*]\(([^)]+)\)", markdown)
    assert len(links) == 4 and all((folder / link).stat().st_size > 0 for link in links)


def test_the_run_is_named_after_what_ran_and_lines_up_headline_metrics(reported):
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{reported / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("trade_pipeline")
    assert experiment.tags[EXPERIMENT_KIND[0]] == EXPERIMENT_KIND[1]  # the UI opens on its runs, not on traces
    run = _runs(reported)[FIRST_RUN]
    metrics = run.data.metrics
    assert {"search.best_score", "search.best_proxy_accuracy", "search.n_trials", "search.n_ok",
            "search.pareto_size", "search.n_selected", "teacher.tiny_cnn.test_top1"} <= set(metrics)
    assert metrics["search.n_trials"] == 4  # conf/test: search.n_trials=4
    assert "run_report.html" in [artifact.path for artifact in client.list_artifacts(run.info.run_id)]
    # its owner, so that a later run can mark it KILLED had its process died before ending it
    assert {"trade_pipeline.host", "trade_pipeline.pid"} <= set(run.data.tags) and run.info.status == "FINISHED"


def test_the_report_rebuilds_alone_from_the_saved_datasets(reported):
    page = reported / "data" / "08_reporting" / "run_report.html"
    page.unlink()
    kedro_run(reported, "report")
    assert "Table 4 analog" in page.read_text()
    assert set(_runs(reported)) == {FIRST_RUN, "tiny_cnn · composite · seed 0 · report"}


def test_the_results_notebook_runs_top_to_bottom_on_the_saved_datasets(reported, monkeypatch):
    monkeypatch.setenv("KEDRO_ENV", "test")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{reported / 'mlflow.db'}")
    notebook = nbformat.read(PROJECT / "notebooks" / "trade_results.ipynb", as_version=4)
    in_project = {"metadata": {"path": str(reported)}}  # the working directory
    NotebookClient(notebook, timeout=300, kernel_name="python3", resources=in_project).execute()  # fails with a cell
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert sum("image/png" in output.get("data", {}) for output in outputs) == 4  # Fig. 5, progress, Fig. 6, TR
    assert "The retrain has not run yet." in "".join(output.get("text", "") for output in outputs)
    assert FIRST_RUN in "".join(output.get("data", {}).get("text/html", "") for output in outputs)  # the runs table
