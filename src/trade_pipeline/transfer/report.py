"""Table 7: every model's test top-1 on each transfer dataset, fine-tuned and from scratch."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

REPORT_COLUMNS = ("model", "dataset", "init", "top1")


def transfer_report(results: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """``transfer_report``: one row per finished (model, dataset, init) job."""
    rows = [{key: result[key] for key in REPORT_COLUMNS} for result in results if result["status"] == "ok"]
    return pd.DataFrame(rows, columns=list(REPORT_COLUMNS))


def report_markdown(report: pd.DataFrame, source: Mapping[str, float], source_name: str) -> str:
    """Table 7's layout: a row per model and init, a column per dataset, after the source
    dataset's own test top-1 (``source``: the retrain's, by model)."""
    if report.empty:
        return "No transfer job finished.\n"
    table = report.pivot_table(index=["model", "init"], columns="dataset", values="top1", sort=False)
    datasets = list(dict.fromkeys(report["dataset"]))
    lines = [f"| architecture | init | {source_name} | " + " | ".join(datasets) + " |",
             "|---|---|---|" + "---|" * len(datasets)]
    for (model, init), row in table.iterrows():
        own = f"{source[model]:.2f}" if init == "transferred" and model in source else "-"
        lines.append(f"| {model} | {init} | {own} | " + " | ".join(f"{row[d]:.2f}" for d in datasets) + " |")
    return "\n".join(lines) + "\n"


def transfer_metrics(report: pd.DataFrame) -> dict[str, dict[str, float]]:
    """``<model>.<dataset>.<init>.top1`` for the MLflow run (prefix ``transfer`` in the catalog)."""
    return {f"{row.model}.{row.dataset}.{row.init}.top1": {"value": float(row.top1), "step": 0}
            for row in report.itertuples()}
