"""Nodes of the ``data`` pipeline: thin wrappers over ``trade_pipeline.data``."""
from __future__ import annotations

import logging

from trade_pipeline.data.config import DataParams
from trade_pipeline.data.sources import load_source
from trade_pipeline.data.split import PARTS, Split, make_split

logger = logging.getLogger(__name__)


def split_dataset(data: DataParams) -> tuple[Split, dict[str, dict[str, float]]]:
    """Reads the source named by ``params:data`` and splits it.

    Returns the ``split`` (indices + metadata) and its sizes as metrics.
    """
    split = make_split(data, load_source(data))
    sizes = {part: len(split.indices(part)) for part in PARTS}
    logger.info("Split %s: %s", data.dataset, ", ".join(f"{part}={size}" for part, size in sizes.items()))
    return split, {part: {"value": float(size), "step": 0} for part, size in sizes.items()}
