"""The ``search`` pipeline."""
from trade_pipeline.pipelines.search.pipeline import create_pipeline

__all__ = ["create_pipeline"]
