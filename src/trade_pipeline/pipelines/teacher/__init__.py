"""The ``teacher`` pipeline."""
from trade_pipeline.pipelines.teacher.pipeline import create_pipeline

__all__ = ["create_pipeline"]
