"""Tables as text: numbers with fixed decimals and a frame as a markdown table, shared by each
stage's own report and by the run report, so a table reads the same in both."""
from __future__ import annotations

import math
from typing import Any

import pandas as pd


def number(value: Any, digits: int = 2, scale: float = 1.0) -> str:
    """``value / scale`` with ``digits`` decimals; ``-`` when missing or not finite."""
    if pd.isna(value) or not math.isfinite(float(value)):
        return "-"
    return f"{float(value) / scale:.{digits}f}"


def markdown_table(frame: pd.DataFrame) -> str:
    def row(cells: list[object]) -> str:
        return "| " + " | ".join(str(cell).replace("|", "\\|") for cell in cells) + " |"

    return "\n".join([row(list(frame.columns)), row(["---"] * len(frame.columns)),
                      *(row(list(values)) for values in frame.itertuples(index=False))])
