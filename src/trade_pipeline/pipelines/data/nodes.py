"""Nodes of the ``data`` pipeline: thin wrappers over ``trade_pipeline.data``."""
from __future__ import annotations

import logging
from typing import Any

from trade_pipeline.config import parse_params
from trade_pipeline.data.config import DataParams
from trade_pipeline.data.sources import load_source
from trade_pipeline.data.split import PARTS, make_split

logger = logging.getLogger(__name__)


def split_dataset(data_params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, float]]:
    """Validates ``params:data``, reads the source and splits it.

    Returns the ``split`` (indices + metadata) and its sizes as metrics.
    """
    params = parse_params(DataParams, data_params, "data")
    split = make_split(params, load_source(params))
    sizes = {part: {"value": float(len(split[part])), "step": 0} for part in PARTS}
    logger.info("Split %s: %s", params.dataset, ", ".join(f"{part}={len(split[part])}" for part in PARTS))
    return split, sizes
