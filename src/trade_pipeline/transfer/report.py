"""Table 7: every model's test top-1 on each transfer dataset, fine-tuned and from scratch."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from trade_pipeline.retrain.report import TRAINED_BY
from trade_pipeline.text_tables import markdown_table, number

REPORT_COLUMNS = ("model", "trained_by", "dataset", "init", "top1")
"""``trained_by``: which retrained version of the model was transferred (``transfer.trained_by``)."""


def transfer_report(results: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """``transfer_report``: one row per finished (model, dataset, init) job."""
    rows = [{key: result[key] for key in REPORT_COLUMNS} for result in results if result["status"] == "ok"]
    return pd.DataFrame(rows, columns=list(REPORT_COLUMNS))


def table_7(report: pd.DataFrame, retrain_report: pd.DataFrame | None, source_name: str) -> pd.DataFrame:
    """Table 7's layout: a row per model and init, a column per transfer dataset, after the
    transferred version's own test top-1 on the source dataset (from ``retrain_report``)."""
    trained_by = report["trained_by"].iloc[0] if len(report) else "distill"
    table = report.pivot_table(index=["model", "init"], columns="dataset", values="top1", sort=False)
    source = {} if retrain_report is None else dict(
        retrain_report[retrain_report["trained_by"] == trained_by][["model", "top1"]].itertuples(index=False))
    frame = table.map(number).rename_axis(columns=None).reset_index().rename(columns={"model": "architecture"})
    frame.insert(2, f"{source_name} ({TRAINED_BY[trained_by]})",
                 [number(source.get(model)) if init == "transferred" else "-" for model, init in table.index])
    return frame


def report_markdown(report: pd.DataFrame, retrain_report: pd.DataFrame | None, source_name: str) -> str:
    """Table 7 as the transfer's markdown report."""
    if report.empty:
        return "No transfer job finished.\n"
    return markdown_table(table_7(report, retrain_report, source_name)) + "\n"


def transfer_metrics(report: pd.DataFrame) -> dict[str, dict[str, float]]:
    """``<model>.<dataset>.<init>.top1`` for the MLflow run (prefix ``transfer`` in the catalog)."""
    return {f"{row.model}.{row.dataset}.{row.init}.top1": {"value": float(row.top1), "step": 0}
            for row in report.itertuples()}
