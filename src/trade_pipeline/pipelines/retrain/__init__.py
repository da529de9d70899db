"""The ``retrain`` pipeline."""
from trade_pipeline.pipelines.retrain.pipeline import create_pipeline

__all__ = ["create_pipeline"]
