"""Model specs: JSON-able dicts that rebuild a module, for searched students and timm models.

A model is saved as its spec plus safetensors weights (docs/contracts.md), so loading never
unpickles anything: `build_model(spec)` makes the module, then the weights are loaded into it.

* ``{"family": "student", "architecture": ArchitectureSpec.to_dict(), "in_chans", "num_classes", "img_size"}``
* ``{"family": "timm", "name", "in_chans", "num_classes", "img_size", "kwargs": {}}`` -- any timm
  model, which is also how predefined students and teachers are described.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import timm
from torch import nn

from trade_pipeline.students.registry import STUDENT_FAMILY
from trade_pipeline.students.spec import ArchitectureSpec

STUDENT_KEYS = ("family", "architecture", "in_chans", "num_classes", "img_size")
REGULARISATION_KEYS = ("drop_rate", "drop_path_rate")  # optional in a student's spec: training-time only
TIMM_KEYS = ("family", "name", "in_chans", "num_classes", "img_size", "kwargs")
# Set from the spec's own fields; in `kwargs` they would contradict them.
RESERVED_TIMM_KWARGS = ("pretrained", "in_chans", "num_classes", "img_size")


@dataclass
class ModelArtifact:
    """What the safe model dataset saves and loads: the spec (JSON header) and the module."""

    model_spec: dict[str, Any]
    model: nn.Module


def student_model_spec(spec: ArchitectureSpec, in_chans: int, num_classes: int, img_size: int) -> dict[str, Any]:
    return {
        "family": "student",
        "architecture": spec.to_dict(),
        "in_chans": in_chans,
        "num_classes": num_classes,
        "img_size": img_size,
    }


def timm_model_spec(name: str, in_chans: int, num_classes: int, img_size: int, **kwargs: Any) -> dict[str, Any]:
    """Spec of timm model `name`; `kwargs` go to `timm.create_model` (e.g. ``patch_size=4``)."""
    reserved = sorted(set(kwargs) & set(RESERVED_TIMM_KWARGS))
    if reserved:
        raise ValueError(
            f"timm kwargs: {reserved[0]!r} is set by the model spec itself; pass it as an argument, "
            "not in kwargs (weights are always loaded separately, so pretrained is not allowed)"
        )
    check_timm_name(name)
    return {
        "family": "timm",
        "name": name,
        "in_chans": in_chans,
        "num_classes": num_classes,
        "img_size": img_size,
        "kwargs": dict(kwargs),
    }


def build_model(model_spec: Mapping[str, Any], pretrained: bool = False) -> nn.Module:
    """The module for `model_spec`, freshly initialised (its weights are loaded by the caller).

    ``pretrained=True`` (timm family only) loads timm's hub weights instead, which needs the
    hub to be reachable (or its cache filled) on the user's machine.
    """
    family = model_spec.get("family") if isinstance(model_spec, Mapping) else None
    if family == "student":
        _check_keys(model_spec, STUDENT_KEYS, optional=REGULARISATION_KEYS)
        architecture = ArchitectureSpec.from_dict(model_spec["architecture"], where="model_spec.architecture")
        if pretrained:
            raise ValueError("pretrained weights exist only for timm models, not for searched students")
        return timm.create_model(STUDENT_FAMILY, architecture=architecture.to_dict(), in_chans=model_spec["in_chans"],
                                 num_classes=model_spec["num_classes"], img_size=model_spec["img_size"],
                                 **{key: model_spec[key] for key in REGULARISATION_KEYS if key in model_spec})
    if family == "timm":
        _check_keys(model_spec, TIMM_KEYS)
        spec = timm_model_spec(
            model_spec["name"],
            model_spec["in_chans"],
            model_spec["num_classes"],
            model_spec["img_size"],
            **model_spec["kwargs"],
        )
        return _create_timm_model(spec, pretrained)
    raise ValueError(f"model_spec.family: unknown value {family!r}; allowed: student, timm")


def _create_timm_model(spec: Mapping[str, Any], pretrained: bool) -> nn.Module:
    kwargs = dict(spec["kwargs"])
    # Models with a fixed input size (ViTs, Swin, Mixer, ...) size their position embeddings
    # from img_size, so 28x28 inputs need it; the others take any size and refuse the argument.
    pretrained_cfg = timm.models.get_pretrained_cfg(spec["name"])
    if pretrained_cfg is not None and pretrained_cfg.fixed_input_size:
        kwargs["img_size"] = spec["img_size"]
    return timm.create_model(
        spec["name"], pretrained=pretrained, in_chans=spec["in_chans"], num_classes=spec["num_classes"], **kwargs
    )


def check_timm_name(name: str) -> str:
    """``name`` if timm knows the architecture, else a ValueError suggesting close names."""
    if not isinstance(name, str) or not timm.is_model(name):
        close = difflib.get_close_matches(str(name), timm.list_models(), n=5, cutoff=0.6)
        hint = f"close matches: {', '.join(close)}" if close else "see timm.list_models()"
        raise ValueError(f"timm has no model {name!r}; {hint}")
    return name


def with_regularisation(model_spec: dict[str, Any], drop_rate: float, drop_path_rate: float) -> dict[str, Any]:
    """``model_spec`` trained with dropout before the head and stochastic depth (timm's
    ``drop_rate`` / ``drop_path_rate``); unchanged when both are 0, so its identity is too."""
    rates = {key: value for key, value in zip(REGULARISATION_KEYS, (drop_rate, drop_path_rate)) if value}
    if not rates:
        return model_spec
    if model_spec["family"] == "timm":
        return {**model_spec, "kwargs": {**model_spec["kwargs"], **rates}}
    return {**model_spec, **rates}


def _check_keys(model_spec: Mapping[str, Any], keys: tuple[str, ...], optional: tuple[str, ...] = ()) -> None:
    unknown = sorted(set(model_spec) - set(keys) - set(optional))
    missing = [key for key in keys if key not in model_spec]
    if unknown or missing:
        problem = f"unknown key {unknown[0]!r}" if unknown else f"missing key {missing[0]!r}"
        raise ValueError(f"model_spec ({model_spec['family']}): {problem}; expected keys: {', '.join(keys)}")
