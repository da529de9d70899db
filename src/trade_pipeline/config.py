"""Parameter models: every user-facing setting is a field of a strict pydantic model.

Nodes annotate their ``params:<section>`` input with the section's model (a :class:`Section`),
so Kedro's typed-parameter validation (``kedro.validation``) builds and checks it when the run
starts, before the first dataset is loaded. A bad value raises :class:`ConfigError` with one
line per problem naming the full key (``search.n_trials``), the value given and what is allowed.
"""
from __future__ import annotations

import difflib
from typing import Annotated, Any, ClassVar, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from trade_pipeline.errors import InputError


class ConfigError(InputError):
    """A parameter file holds a wrong key, type or value."""


class StrictModel(BaseModel):
    """Base for parameter models: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Section(StrictModel):
    """A top-level parameter section (``data``, ``teacher``, ``search``, …).

    ``moved_keys`` maps keys an earlier version read here to where they live now, so an old
    ``conf/local`` gets a pointer instead of a bare "unknown key".
    """

    section: ClassVar[str]
    moved_keys: ClassVar[dict[str, str]] = {}

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kwargs: Any) -> Any:  # what Kedro calls
        try:
            return super().model_validate(obj, *args, **kwargs)
        except ValidationError as error:
            raise ConfigError(describe(error, cls.section, cls.moved_keys, _field_names(cls))) from None


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


Device = Annotated[str, AfterValidator(check_device)]
"""A device setting: cpu, cuda or cuda:N, the latter only where CUDA is."""

Seed = Annotated[int, Field(ge=0, le=2**32 - 1)]
"""A random seed: what numpy, torch and scikit-learn all accept (a negative one passes some
and fails others minutes into a run)."""


def describe(
    error: ValidationError, prefix: str, moved_keys: dict[str, str] | None = None, known: set[str] | None = None
) -> str:
    """One line per problem: ``search.n_trials: Input should be ... (got 0)``; an unknown key
    gets its new home (``moved_keys``) or the closest ``known`` field name."""
    lines = [f"invalid parameters (fix them in conf/<env>/parameters_{prefix}.yml or with --params):"]
    for item in error.errors():
        path = [str(part) for part in item["loc"]]
        key = ".".join([prefix, *path])
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            moved = (moved_keys or {}).get(".".join(path))
            close = difflib.get_close_matches(path[-1], sorted(known or ()), n=1)
            hint = f"did you mean {close[0]!r}?" if close else "check the spelling against conf/base"
            message = f"moved to {moved}" if moved else f"unknown key ({hint})"
        given = item.get("input")
        shown = "" if item["type"] in ("missing", "extra_forbidden") or isinstance(given, dict) else f" (got {given!r})"
        lines.append(f"  {key}: {message}{shown}")
    return "\n".join(lines)


def _field_names(model: type[BaseModel]) -> set[str]:
    """Names of every field of ``model`` and of the models nested in it (for spelling hints)."""
    names: set[str] = set()
    pending, seen = [model], set()
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        for name, field in current.model_fields.items():
            names.add(name)
            stack = [field.annotation]
            while stack:
                annotation = stack.pop()
                if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                    pending.append(annotation)
                stack.extend(get_args(annotation))
    return names
