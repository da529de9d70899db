"""Project pipelines: every folder under ``pipelines/`` registers itself by name."""
from __future__ import annotations

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline


def register_pipelines() -> dict[str, Pipeline]:
    """Returns ``data``, ``teacher``, ``search``, … and ``__default__`` (all of them)."""
    pipelines = find_pipelines(raise_errors=True)
    pipelines["__default__"] = sum(pipelines.values())
    return pipelines
