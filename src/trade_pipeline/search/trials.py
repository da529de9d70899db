"""The durable trial log: one JSON line per evaluated candidate, appended the moment it is known.

Appending (never rewriting) plus an fsync per line means a killed search loses at most the
line being written, and a resumed search can skip every spec hash already in the log.
"""
from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, TypedDict, get_args, get_type_hints

import pandas as pd

from trade_pipeline.search.checkpoint import to_json_value

logger = logging.getLogger(__name__)

class TrialRow(TypedDict):
    """One evaluated candidate: a line of ``trials.jsonl`` and a row of ``search_trials``. Each
    field's annotation carries its pandas dtype in ``TrialLog.to_dataframe()`` (``TRIAL_DTYPES``);
    the order is the table's column order. None where a value is unknown."""

    trial_id: Annotated[int, "Int64"]  # position in the log, 0-based
    iteration: Annotated[int, "Int64"]  # optimizer batch the candidate came from
    strategy: Annotated[str, "string"]
    status: Annotated[str, "string"]  # one of TRIAL_STATUSES
    reason: Annotated[str | None, "string"]  # why not "ok"; None otherwise
    spec_json: Annotated[str, "string"]  # canonical architecture spec, the source of truth
    spec_hash: Annotated[str, "string"]
    block_sequence: Annotated[str, "string"]  # Table 6 style, e.g. "FMB-MB-T(x2)"
    encoding: Annotated[list[float], "object"]  # unit-cube point the optimizer proposed
    params: Annotated[float | None, "float64"]
    macs: Annotated[float | None, "float64"]
    latency_ms: Annotated[float | None, "float64"]  # median batch-1 latency (profiling.profile_model)
    latency_cv: Annotated[float | None, "float64"]  # coefficient of variation of the timed repeats (0.05 = 5 %)
    resource_ratio: Annotated[float | None, "float64"]  # s of Eq. 2
    proxy_accuracy: Annotated[float | None, "float64"]
    score: Annotated[float | None, "float64"]  # Eq. 2, minimised
    log_score: Annotated[float | None, "float64"]  # what the optimizer models
    trust_region: Annotated[int | None, "Int64"]  # TuRBO trust region or LA-MCTS leaf that proposed it
    rung: Annotated[int, "Int64"]  # search.fidelity rung it was trained on (0 = first; one rung when the ladder is off)
    fidelity: Annotated[float, "float64"]  # that rung's share of the proxy data; 1.0 = the full proxy task
    image_epochs: Annotated[int | None, "Int64"]  # proxy compute: training images seen; None when it never trained
    epochs_trained: Annotated[float | None, "float64"]  # proxy epochs it trained (fewer when pruned)
    curve: Annotated[list[list[float]] | None, "object"]  # [updates, mini-val top-1] at each search.pruning probe
    estimated_accuracy: Annotated[float | None, "float64"]  # a pruned student's likely final proxy accuracy
    predicted_accuracy: Annotated[float | None, "float64"]  # proxy accuracy the composite strategy expected
    p_feasible: Annotated[float | None, "float64"]  # the composite strategy's probability that it meets the target
    guided: Annotated[bool, "boolean"]  # chosen from what the strategy learned, not by its design or a uniform draw
    predicted_latency_ms: Annotated[float | None, "float64"]  # the search's latency model before profiling
    seconds: Annotated[float | None, "float64"]  # wall time to build, profile and train the candidate
    started_at: Annotated[str, "datetime64[ns, UTC]"]  # ISO 8601 string in the log


TRIAL_DTYPES: dict[str, str] = {name: get_args(hint)[1]
                                for name, hint in get_type_hints(TrialRow, include_extras=True).items()}
"""Column -> pandas dtype of ``TrialLog.to_dataframe()``, in the table's column order."""
TRIAL_COLUMNS: tuple[str, ...] = tuple(TRIAL_DTYPES)
TRIAL_STATUSES = ("ok", "over_budget", "failed", "pruned")


def require_columns(table: pd.DataFrame, columns: Iterable[str]) -> None:
    """Fail early, naming what is missing, when ``table`` is not a trials table."""
    missing = [column for column in columns if column not in table.columns]
    if missing:
        raise ValueError(
            f"trials table is missing columns {missing}; pass the table built by "
            "TrialLog.to_dataframe() (the search_trials dataset)"
        )


def ok_trials(table: pd.DataFrame) -> pd.DataFrame:
    """The candidates that were trained and scored (status ``"ok"``) on the full proxy task: a
    lower rung's accuracy (``search.fidelity``) is not on the same scale."""
    require_columns(table, ["status"])
    full = table["fidelity"].isna() | (table["fidelity"] == 1.0) if "fidelity" in table.columns else True
    return table[(table["status"] == "ok") & full]


def guided_outcomes(table: pd.DataFrame, acc_target: float) -> tuple[int, int]:
    """Model-guided candidates trained on the full proxy task, and how many of them met
    ``acc_target``: the share says whether the strategy's picks were ones it could expect to pass."""
    require_columns(table, ["guided", "proxy_accuracy"])
    scored = ok_trials(table)
    guided = scored[scored["guided"].fillna(False).astype(bool)]
    return len(guided), int((guided["proxy_accuracy"] >= acc_target).sum())


def trials_table(rows: Iterable[Mapping[str, Any]] = ()) -> pd.DataFrame:
    """Trial rows as the trials table: ``TRIAL_COLUMNS`` in order, typed by ``TRIAL_DTYPES``."""
    table = pd.DataFrame(list(rows), columns=list(TRIAL_COLUMNS))
    table["started_at"] = pd.to_datetime(table["started_at"], utc=True, format="ISO8601")
    return table.astype(TRIAL_DTYPES)


def _validated(row: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(row) - set(TRIAL_COLUMNS))
    missing = [column for column in TRIAL_COLUMNS if column not in row]
    if unknown or missing:
        raise ValueError(
            f"trial row has unknown keys {unknown} and is missing keys {missing}; "
            f"a row needs exactly the keys of TRIAL_COLUMNS (None where a value is unknown)"
        )
    if row["status"] not in TRIAL_STATUSES:
        raise ValueError(f"trial status must be one of {TRIAL_STATUSES}, got {row['status']!r}")
    return {column: row[column] for column in TRIAL_COLUMNS}


class TrialLog:
    """Append-only JSON-lines file of trials; a line counts only once its newline is written."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def append(self, row: Mapping[str, Any]) -> None:
        """Write one finished candidate durably (flush + fsync) before returning."""
        line = json.dumps(_validated(row), default=to_json_value) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._drop_partial_line()
        with self.path.open("a", encoding="utf-8") as file:
            file.write(line)
            file.flush()
            os.fsync(file.fileno())

    def _drop_partial_line(self) -> None:
        # A kill mid-append leaves a line without its newline; cut it so the next line is whole.
        if not self.path.exists() or self.path.stat().st_size == 0:
            return
        with self.path.open("rb+") as file:
            file.seek(-1, os.SEEK_END)
            if file.read(1) == b"\n":
                return
            file.seek(0)
            content = file.read()
            logger.warning("Dropping an incomplete last line of %s (a killed write).", self.path)
            file.truncate(content.rfind(b"\n") + 1)
            file.flush()
            os.fsync(file.fileno())

    def rows(self) -> list[dict[str, Any]]:
        """Every complete row in order; an unterminated last line (a killed write) is skipped."""
        if not self.path.exists():
            return []
        *lines, tail = self.path.read_text(encoding="utf-8").split("\n")
        if tail:
            logger.warning("Skipping an incomplete last line of %s (a killed write).", self.path)
        rows = []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise ValueError(
                    f"trial log {self.path} line {number} is corrupt ({error}); "
                    "fix or delete that line to keep the other trials"
                ) from error
        return rows

    def to_dataframe(self) -> pd.DataFrame:
        """All rows as a table with ``TRIAL_COLUMNS`` in order, typed by ``TRIAL_DTYPES``."""
        return trials_table(self.rows())
