"""The ``transfer`` pipeline."""
from trade_pipeline.pipelines.transfer.pipeline import create_pipeline

__all__ = ["create_pipeline"]
