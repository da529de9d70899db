"""Nested MLflow runs under the ``kedro run``'s run: one per search candidate or retrain job;
and the runs a killed process left ``RUNNING``, marked ``KILLED`` by the next run."""
from __future__ import annotations

import logging
import math
import os
import socket
from collections.abc import Mapping, Sequence
from typing import Any

import mlflow

logger = logging.getLogger(__name__)

HOST_TAG, PID_TAG = "trade_pipeline.host", "trade_pipeline.pid"


def owner_tags() -> dict[str, str]:
    """Which process on which machine opened a run, so a later run can tell whether it still lives."""
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())}


def mark_stale_runs_killed(experiment_name: str) -> list[str]:
    """Marks ``KILLED`` the runs of ``experiment_name`` still ``RUNNING`` whose process on this
    machine is gone (a ``kill -9`` or a crash never ends its run), and returns their ids.

    As Optuna fails stale trials by heartbeat, but never a live one: a run opened on another
    machine, by a process still running, or without this project's owner tags is left alone.
    """
    experiment = mlflow.get_experiment_by_name(experiment_name)
    if experiment is None:
        return []
    client = mlflow.MlflowClient()
    running = client.search_runs(
        [experiment.experiment_id],
        filter_string=f"attributes.status = 'RUNNING' and tags.`{HOST_TAG}` = '{socket.gethostname()}'",
    )
    stale = [run.info.run_id for run in running if not _alive(int(run.data.tags.get(PID_TAG, "0")))]
    for run_id in stale:
        client.set_terminated(run_id, status="KILLED")
    if stale:
        logger.warning("Marked %d MLflow run(s) KILLED whose process had died without ending them: %s",
                       len(stale), ", ".join(stale))
    return stale


def _alive(pid: int) -> bool:
    """Whether a process ``pid`` runs on this machine (unknown pids count as alive)."""
    if pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


class ChildRuns:
    """Logs child runs of the MLflow run active when it was created; does nothing without one
    (tracking disabled, or library code called from a notebook)."""

    def __init__(self) -> None:
        self.parent = mlflow.active_run()

    @property
    def enabled(self) -> bool:
        return self.parent is not None

    def log(
        self,
        name: str,
        params: Mapping[str, Any],
        metrics: Mapping[str, Any],
        tags: Mapping[str, str],
        history: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        """One child run: ``metrics`` once, each ``history`` row at its ``epoch`` as the step."""
        if not self.enabled:
            return
        with mlflow.start_run(run_name=name, nested=True, parent_run_id=self.parent.info.run_id):
            mlflow.log_params(dict(params))
            mlflow.log_metrics({key: float(value) for key, value in metrics.items() if finite(value)})
            for row in history:
                mlflow.log_metrics({key: float(value) for key, value in row.items() if key != "epoch" and finite(value)},
                                   step=int(row["epoch"]))
            mlflow.set_tags({**owner_tags(), **tags})


def finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(float(value))


def log_job(tracker: ChildRuns, result: Mapping[str, Any], param_keys: Sequence[str]) -> None:
    """A retrain or transfer job's result row as a child run: its test accuracy, its epochs."""
    tracker.log(result["job"], params={key: result[key] for key in param_keys},
                metrics={key: result[key] for key in ("top1", "top5", "seconds")},
                tags={"status": result["status"], "reason": result["reason"]}, history=result["history"])
