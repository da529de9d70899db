"""Real KedroSession runs in a throwaway copy of the project, so nothing lands in the checkout."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

PROJECT = Path(__file__).resolve().parents[2]


def copy_project(target: Path) -> Path:
    """pyproject + conf copied to ``target``; the package is imported from the installed checkout."""
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(PROJECT / "pyproject.toml", target / "pyproject.toml")
    shutil.copytree(PROJECT / "conf", target / "conf", ignore=shutil.ignore_patterns("local"))
    (target / "conf" / "local").mkdir()
    (target / "src").mkdir()
    return target


def run_pipelines(project: Path, pipelines: list[str], params: dict[str, Any] | None = None) -> None:
    """``kedro run --env=test --pipelines=...`` with nested ``--params``."""
    bootstrap_project(project)
    with KedroSession.create(project_path=project, env="test", runtime_params=params) as session:
        session.run(pipeline_names=pipelines)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh project copy as the working directory, tracking to a temp SQLite file."""
    copy_project(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def run() -> Callable[..., None]:
    return run_pipelines


def enable_tracking(project: Path) -> None:
    """Turns conf/test's disabled tracking on, for tests about what reaches MLflow."""
    mlflow_yml = project / "conf" / "test" / "mlflow.yml"
    config = yaml.safe_load(mlflow_yml.read_text())
    config["tracking"]["disable_tracking"]["pipelines"] = []
    mlflow_yml.write_text(yaml.safe_dump(config))


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    """``(project, run)``: a project copy where data and teacher ran untracked, then the search
    with tracking on; the module's tests continue from there."""
    project = copy_project(tmp_path_factory.mktemp("project"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{project / 'mlflow.db'}")
        patch.chdir(project)
        run_pipelines(project, ["data", "teacher"])
        enable_tracking(project)
        run_pipelines(project, ["search"])
        yield project, run_pipelines
