"""Nested MLflow runs under the ``kedro run``'s run: one per search candidate or retrain job."""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import mlflow


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
            mlflow.set_tags(dict(tags))


def finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(float(value))


def log_job(tracker: ChildRuns, result: Mapping[str, Any], param_keys: Sequence[str]) -> None:
    """A retrain or transfer job's result row as a child run: its test accuracy, its epochs."""
    tracker.log(result["job"], params={key: result[key] for key in param_keys},
                metrics={key: result[key] for key in ("top1", "top5", "seconds")},
                tags={"status": result["status"], "reason": result["reason"]}, history=result["history"])
