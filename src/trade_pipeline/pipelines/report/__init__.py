"""The ``report`` pipeline."""
from trade_pipeline.pipelines.report.pipeline import create_pipeline

__all__ = ["create_pipeline"]
