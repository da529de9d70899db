"""Nodes of the ``transfer`` pipeline: thin wrappers over ``trade_pipeline.transfer``."""
from __future__ import annotations

from typing import Any

import pandas as pd

from trade_pipeline.data.split import Split
from trade_pipeline.datasets.partitions import Partitions, load_partitions
from trade_pipeline.models import ModelArtifact
from trade_pipeline.transfer.config import TransferParams
from trade_pipeline.transfer.jobs import target_splits
from trade_pipeline.transfer.report import report_markdown, transfer_metrics, transfer_report
from trade_pipeline.transfer.session import run_transfer, transferable


def split_targets(split: Split, transfer: TransferParams) -> dict[str, Split]:
    """``transfer_splits``: each ``transfer.targets`` dataset split at the students' input size."""
    return target_splits(transfer.targets, split.image_size)


def transfer_models(retrained_models: dict[str, ModelArtifact], retrain_results: list[dict[str, Any]],
                    transfer_splits: Partitions[Split], transfer: TransferParams) -> list[dict[str, Any]]:
    """Fine-tunes the ``transfer.trained_by`` version of each retrained model on each target
    (and trains it from scratch there)."""
    models = transferable(retrained_models, retrain_results, transfer.trained_by)
    splits = load_partitions(transfer_splits, [target.name for target in transfer.targets], "transfer split",
                             "transfer")
    return run_transfer(models, splits, transfer)


def report_transfer(transfer_results: list[dict[str, Any]], retrain_report: pd.DataFrame, split: Split
                    ) -> tuple[pd.DataFrame, str, dict[str, dict[str, float]]]:
    """Table 7 (``transfer_report``, also as markdown, beside the source test top-1) and its metrics."""
    report = transfer_report(transfer_results)
    return report, report_markdown(report, retrain_report, split.source.dataset), transfer_metrics(report)
