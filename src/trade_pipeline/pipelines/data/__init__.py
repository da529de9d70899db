"""The ``data`` pipeline."""
from trade_pipeline.pipelines.data.pipeline import create_pipeline

__all__ = ["create_pipeline"]
