"""Searched students as a timm model family, ``trade_student``.

``timm.create_model("trade_student", architecture=spec.to_dict(), in_chans=…, num_classes=…,
img_size=…)`` builds any spec; timm records those arguments, so a folder written by timm's
``save_for_hf`` rebuilds with ``timm.create_model("local-dir:<folder>", pretrained=True)`` once
``trade_pipeline`` is imported (which registers the family).
"""
from __future__ import annotations

from typing import Any

from timm.models import build_model_with_cfg, generate_default_cfgs, register_model

from trade_pipeline.students.builder import StudentNet
from trade_pipeline.students.spec import ArchitectureSpec

STUDENT_FAMILY = "trade_student"
default_cfgs = generate_default_cfgs({
    # Exports replace input size, mean and std with the dataset's own (save_for_hf's data_config).
    STUDENT_FAMILY: {"url": "", "num_classes": 10, "input_size": (1, 28, 28), "pool_size": None, "crop_pct": 1.0,
                      "interpolation": "bilinear", "mean": (0.5,), "std": (0.5,), "first_conv": "stem.conv",
                      "classifier": "head"},
})


def _student(architecture: dict[str, Any], in_chans: int = 3, num_classes: int = 1000,
             img_size: int | tuple[int, int] = 224, drop_rate: float = 0.0, drop_path_rate: float = 0.0,
             **kwargs: Any) -> StudentNet:
    if not isinstance(img_size, int):  # timm hands a saved size back as (height, width)
        height, width = img_size
        if height != width:
            raise ValueError(f"img_size: students take square images, got {height}x{width}")
        img_size = height
    return StudentNet(ArchitectureSpec.from_dict(architecture), in_chans, num_classes, img_size, drop_rate,
                      drop_path_rate)


@register_model
def trade_student(pretrained: bool = False, **kwargs: Any) -> StudentNet:
    """A TRADE-searched student; ``architecture`` is its ``ArchitectureSpec.to_dict()``."""
    return build_model_with_cfg(_student, STUDENT_FAMILY, pretrained, **kwargs)
