"""Validation of a pipeline's parameters before any compute.

Each pipeline declares a pydantic model of its parameters; :func:`parse_params` turns a
``ValidationError`` into one message that names every bad key (``data.n_test``), what was
given and what is allowed, so a typo stops the run at once instead of hours later.
"""
from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

Model = TypeVar("Model", bound=BaseModel)


class ConfigError(ValueError):
    """A parameter file holds a wrong key, type or value."""


class StrictModel(BaseModel):
    """Base for parameter models: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def check_device(device: str) -> str:
    """A torch device string that exists on this machine (``cuda`` only where CUDA is)."""
    import torch

    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"'{device}' is not a torch device; use cpu, cuda or cuda:N") from None
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"'{device}' but CUDA is not available on this machine; use cpu")
    return device


def parse_params(model: type[Model], params: dict[str, Any] | None, prefix: str) -> Model:
    """Validates ``params`` (the mapping under ``prefix`` in parameters_*.yml) against ``model``."""
    try:
        return model.model_validate(params or {})
    except ValidationError as error:
        raise ConfigError(_describe(error, prefix)) from None


def _describe(error: ValidationError, prefix: str) -> str:
    lines = [f"Invalid parameters under '{prefix}' (fix them in conf/<env>/parameters_*.yml or --params):"]
    for item in error.errors():
        key = ".".join([prefix, *(str(part) for part in item["loc"])])
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown key (check the spelling against docs/ or conf/base)"
        given = item.get("input")
        shown = "" if item["type"] in ("missing", "extra_forbidden") else f" (got {given!r})"
        lines.append(f"  {key}: {message}{shown}")
    return "\n".join(lines)
