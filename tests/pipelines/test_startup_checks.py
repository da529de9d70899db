"""What a new user gets on a fresh clone: bad parameters and missing inputs refused at once, by name."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from kedro.validation import ParameterValidationError

from trade_pipeline.hooks import MissingInputError


def _files(project: Path) -> dict[str, float]:
    return {str(path): path.stat().st_mtime for path in (project / "data").rglob("*") if path.is_file()}


# One case per kind of refusal and parameter block: each block's own checks are unit-tested with
# its parameters (tests/search/test_config.py, tests/test_conf.py); this runs them through Kedro.
@pytest.mark.parametrize(
    ("pipeline", "params", "key"),
    [
        ("search", {"search": {"n_trials": 0}}, "search.n_trials"),
        ("search", {"search": {"proxy": {"kd_alpha": 1.5}}}, "search.proxy.kd_alpha"),
        ("search", {"search": {"turbo": {"failure_tolerance": 0}}}, "search.turbo.failure_tolerance"),
        ("search", {"search": {"seeed": 1}}, "search.seeed: unknown key (did you mean 'seed'?)"),
        ("data", {"data": {"dataset": "imagenet21k"}}, "data.dataset"),
        ("data", {"data": {"proxy_fraction": 0.5}}, "data.proxy_fraction: moved to search.proxy.data_fraction"),
        ("teacher", {"teacher": {"use": ["resnet", "gpt"]}}, "teacher.use"),
    ],
)
def test_a_bad_parameter_stops_a_fresh_project_at_once_naming_the_key(project, run, pipeline, params, key):
    (project / "data" / "01_raw").mkdir(parents=True)
    (project / "data" / "01_raw" / "mine.txt").write_text("a user's file")
    before = _files(project)
    with pytest.raises(ParameterValidationError) as error:
        run(project, [pipeline], params)
    assert key in str(error.value)
    assert _files(project) == before  # refused before any dataset was read or written


def test_a_pipeline_whose_inputs_were_never_saved_says_which_pipeline_makes_them(project, run):
    with pytest.raises(MissingInputError) as error:
        run(project, ["search"])
    message = str(error.value)
    assert "split has no saved version yet: run `kedro run --pipelines=data` first" in message
    assert "teacher_profile has no saved version yet: run `kedro run --pipelines=teacher` first" in message


def _kedro(project: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "1", "MLFLOW_TRACKING_URI": f"sqlite:///{project / 'mlflow.db'}"}
    command = [sys.executable, "-m", "kedro", "run", "--env=test", *args]
    return subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=300)


def test_the_cli_prints_a_bad_parameter_in_a_few_lines_without_a_traceback(project):
    result = _kedro(project, "--pipelines=search", "--params=search.n_trials=0")
    assert result.returncode == 1
    assert "search.n_trials: Input should be greater than or equal to 1 (got 0)" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_the_singular_pipeline_option_users_type_still_runs_that_pipeline(project):
    result = _kedro(project, "--pipeline=search")  # deprecated in Kedro 1.x, still accepted
    assert result.returncode == 1  # it reached the search pipeline, whose inputs a fresh project lacks
    assert "split has no saved version yet: run `kedro run --pipelines=data` first" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
