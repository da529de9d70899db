"""The project hooks alone: which missing inputs stop a run, and how a run is named and filed."""
from __future__ import annotations

import os

import mlflow
import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro_datasets.pandas import CSVDataset

from trade_pipeline.hooks import EXPERIMENT_KIND, MissingInputError, check_inputs_saved, mark_model_training, run_name
from trade_pipeline.pipeline_registry import all_pipelines
from trade_pipeline.search.config import SearchParams

from ..search.conftest import tiny_search_params


@pytest.fixture
def catalog(tmp_path) -> DataCatalog:
    """Every input of the report saved, except the retrain's and the transfer's reports."""
    report = all_pipelines()["report"]
    catalog = DataCatalog({name: MemoryDataset("saved") for name in report.inputs()})
    for name in ("retrain_report", "transfer_report"):
        catalog[name] = CSVDataset(filepath=str(tmp_path / f"{name}.csv"))
    return catalog


def test_the_report_goes_without_the_later_stages_which_it_is_handed_as_none(catalog):
    check_inputs_saved(all_pipelines()["report"], catalog)
    assert catalog.load("retrain_report") is None and catalog.load("transfer_report") is None
    assert catalog.load("search_trials") == "saved"


def test_an_input_another_pipeline_needs_is_still_refused_by_name(catalog):
    pipelines = all_pipelines()
    with pytest.raises(MissingInputError, match="retrain_report has no saved version yet: run `kedro run "
                                                "--pipelines=retrain` first"):
        check_inputs_saved(pipelines["transfer"] + pipelines["report"], catalog)


def test_the_report_still_needs_the_teacher_and_search_outputs(catalog, tmp_path):
    catalog["teacher_profile"] = CSVDataset(filepath=str(tmp_path / "teacher_profile.csv"))
    with pytest.raises(MissingInputError) as error:
        check_inputs_saved(all_pipelines()["report"], catalog)
    assert str(error.value) == "teacher_profile has no saved version yet: run `kedro run --pipelines=teacher` first"


def test_a_run_is_named_after_its_pipelines_teacher_strategy_and_seed():
    parameters = {"teacher": {"search_teacher": "vit"}, "search": SearchParams.model_validate(tiny_search_params())}
    assert run_name(None, parameters) == "vit · turbo · seed 0 · all"
    assert run_name(["__default__"], parameters) == "vit · turbo · seed 0 · all"
    assert run_name(["report", "data", "search"], parameters) == "vit · turbo · seed 0 · data+search+report"
    unvalidated = {"teacher": {"search_teacher": "vit"}, "search": {"n_trials": 4}}  # a section no node reads
    assert run_name(["report"], unvalidated) == "vit · composite · seed 0 · report"


@pytest.fixture
def tracking(tmp_path):
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    yield mlflow.MlflowClient()
    mlflow.set_tracking_uri(previous)


def test_the_experiment_is_marked_model_training_unless_its_kind_was_chosen(tracking):
    fresh = tracking.create_experiment("fresh")
    chosen = tracking.create_experiment("chosen", tags={EXPERIMENT_KIND[0]: "genai_development"})
    mark_model_training("fresh")
    mark_model_training("chosen")
    assert tracking.get_experiment(fresh).tags[EXPERIMENT_KIND[0]] == "custom_model_development"
    assert tracking.get_experiment(chosen).tags[EXPERIMENT_KIND[0]] == "genai_development"


def test_runs_left_running_by_a_dead_process_are_marked_killed_and_no_live_one(tracking):
    import socket
    import subprocess
    import sys

    from trade_pipeline.tracking import HOST_TAG, PID_TAG, mark_stale_runs_killed

    client = tracking
    experiment = client.create_experiment("stale")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = dead.stdout.strip()  # that process has exited
    here = socket.gethostname()
    owners = {"killed": (here, dead_pid), "alive": (here, str(os.getpid())), "elsewhere": ("other-host", dead_pid),
              "untagged": None}
    runs = {}
    for name, owner in owners.items():
        run = client.create_run(experiment, run_name=name)  # RUNNING until ended
        if owner:
            client.set_tag(run.info.run_id, HOST_TAG, owner[0])
            client.set_tag(run.info.run_id, PID_TAG, owner[1])
        runs[name] = run.info.run_id

    assert mark_stale_runs_killed("stale") == [runs["killed"]]
    statuses = {name: client.get_run(run_id).info.status for name, run_id in runs.items()}
    assert statuses == {"killed": "KILLED", "alive": "RUNNING", "elsewhere": "RUNNING", "untagged": "RUNNING"}
    assert mark_stale_runs_killed("no such experiment") == []
