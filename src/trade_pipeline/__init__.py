"""trade_pipeline: TRADE architecture search for knowledge distillation, as a Kedro project."""

__version__ = "0.1.0"

from trade_pipeline.students import registry as _registry  # noqa: E402,F401 - timm's ``trade_student`` family
