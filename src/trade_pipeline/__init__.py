"""trade_pipeline: TRADE architecture search for knowledge distillation, as a Kedro project."""

__version__ = "0.1.0"
