"""Each search candidate as a nested MLflow run under the ``kedro run``'s run (docs/tracking.md).

Params are the spec's fields and block sequence, metrics its costs, accuracy and score, tags
its status, trust region, strategy and fidelity rung, so candidates can be sorted and compared in the UI.
"""
from __future__ import annotations

import json
from typing import Any

from trade_pipeline.tracking import ChildRuns

METRICS = ("params", "macs", "latency_ms", "latency_cv", "resource_ratio", "proxy_accuracy", "score", "log_score",
           "predicted_accuracy", "p_feasible", "predicted_latency_ms", "image_epochs", "seconds")


class CandidateTracker(ChildRuns):
    """Logs trial rows as child runs of the MLflow run active when it was created."""

    def log_trial(self, row: dict[str, Any], resumed: bool = False) -> None:
        self.log(
            name=f"trial-{row['trial_id']:04d} {row['block_sequence']}",
            params=candidate_params(row),
            metrics={key: row[key] for key in METRICS if row.get(key) is not None},
            tags={
                "status": row["status"],
                "reason": row["reason"] or "",
                "strategy": row["strategy"],
                "trust_region": "" if row["trust_region"] is None else str(row["trust_region"]),
                "iteration": str(row["iteration"]),
                "rung": str(row["rung"]),
                "guided": str(bool(row.get("guided"))).lower(),
                "spec_hash": row["spec_hash"],
                "resumed": str(resumed).lower(),
            },
        )


def candidate_params(row: dict[str, Any]) -> dict[str, Any]:
    """The spec flattened to ``stem_width``, ``blocks.2.kernel_size``, … plus the block sequence."""
    flat: dict[str, Any] = {"block_sequence": row["block_sequence"]}
    _flatten(json.loads(row["spec_json"]), "", flat)
    return flat


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(item, f"{prefix}{key}.", out)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _flatten(item, f"{prefix}{index}.", out)
    else:
        out[prefix.rstrip(".")] = "none" if value is None else value
