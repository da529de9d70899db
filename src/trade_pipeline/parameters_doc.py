"""docs/parameters.md, written from the parameter models themselves, so it cannot drift from them.

Each default is stated once, on its model; this page lists every key with that default and
what is allowed. ``python -m trade_pipeline.parameters_doc`` rewrites the page; a test fails
when the committed page differs from what the models say.
"""
from __future__ import annotations

import json
import sys
import types
from dataclasses import astuple
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from annotated_types import Ge, Gt, Le, Lt, MaxLen, MinLen
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from trade_pipeline.config import Section

DOC = Path(__file__).resolve().parents[2] / "docs" / "parameters.md"
BOUNDS = {Ge: "≥", Gt: ">", Le: "≤", Lt: "<"}


def sections() -> list[type[Section]]:
    """The top-level sections, in pipeline order."""
    from trade_pipeline.data.config import DataParams
    from trade_pipeline.retrain.config import RetrainParams
    from trade_pipeline.search.config import SearchParams
    from trade_pipeline.teachers.config import TeacherPipelineParams
    from trade_pipeline.transfer.config import TransferParams

    return [DataParams, TeacherPipelineParams, SearchParams, RetrainParams, TransferParams]


def reference() -> str:
    lines = ["# Parameters", "", "Every key of `conf/<env>/parameters_<section>.yml`, its default and what is allowed.",
             "Written by `python -m trade_pipeline.parameters_doc` from the pydantic models that Kedro",
             "validates when a run starts; `conf/base` sets only what the embedded default changes.", ""]
    for section in sections():
        lines += _model(section, section.section, level=2)
    return "\n".join(lines).rstrip() + "\n"


def _model(model: type[BaseModel], prefix: str, level: int) -> list[str]:
    doc = (model.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
    lines = [f"{'#' * level} `{prefix}` ({model.__name__})", "", doc, "", "| key | default | allowed |",
             "|---|---|---|"]
    nested = []
    for name, field in model.model_fields.items():
        key = f"{prefix}.{name}"
        inner = _nested_model(field.annotation)
        if inner is not None:
            suffix = {dict: ".<name>", list: "[]"}.get(get_origin(field.annotation), "")
            nested.append((inner, key + suffix))
            lines.append(f"| `{key}` | see below | {_allowed(field.annotation, field.metadata)} |")
            continue
        lines.append(f"| `{key}` | {_default(field)} | {_allowed(field.annotation, field.metadata)} |")
    lines.append("")
    for inner, key in nested:
        lines += _model(inner, key, min(level + 1, 4))
    return lines


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds (itself, optional, or in a dict / list), else None."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) in (Union, types.UnionType, dict, list):
        found = [_nested_model(arg) for arg in get_args(annotation)]
        return next((model for model in found if model is not None), None)
    return None


def _default(field: Any) -> str:
    if field.default is PydanticUndefined:
        return "required" if field.default_factory is None else f"`{json.dumps(field.default_factory())}`"
    value = field.default
    return f"`{json.dumps(value.model_dump(mode='json') if isinstance(value, BaseModel) else value)}`"


def _allowed(annotation: Any, metadata: list[Any]) -> str:
    bounds = [f"{BOUNDS[type(m)]} {astuple(m)[0]}" for m in metadata if type(m) in BOUNDS]
    sizes = [f"{'at least' if isinstance(m, MinLen) else 'at most'} {astuple(m)[0]} items"
             for m in metadata if isinstance(m, MinLen | MaxLen)]
    return ", ".join([_type(annotation), *bounds, *sizes])


def _type(annotation: Any) -> str:
    origin = get_origin(annotation)
    if origin is Annotated:
        return _type(get_args(annotation)[0])
    if origin is Literal:
        return "one of " + ", ".join(f"`{value}`" for value in get_args(annotation))
    if origin in (Union, types.UnionType):
        return " or ".join("null" if arg is type(None) else _type(arg) for arg in get_args(annotation))
    if origin in (list, tuple):
        items = [arg for arg in get_args(annotation) if arg is not Ellipsis]
        return f"list of {_type(items[0])}" if len(set(map(str, items))) == 1 else "[" + ", ".join(map(_type, items)) + "]"
    if origin is dict:
        return f"mapping of {_type(get_args(annotation)[1])}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "a mapping"
    return getattr(annotation, "__name__", str(annotation)).replace("NoneType", "null")


if __name__ == "__main__":
    DOC.write_text(reference(), encoding="utf-8")
    print(f"wrote {DOC}", file=sys.stderr)
