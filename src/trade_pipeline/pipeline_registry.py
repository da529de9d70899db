"""Project pipelines: every folder under ``pipelines/`` registers itself by name."""
from __future__ import annotations

import importlib
import pkgutil

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

import trade_pipeline.pipelines


def register_pipelines() -> dict[str, Pipeline]:
    """Returns ``data``, ``teacher``, ``search``, … and ``__default__`` (all of them).

    Under ``kedro run --pipelines=x`` Kedro asks for ``x`` alone and ``find_pipelines`` loads
    only that one.
    """
    pipelines = find_pipelines(raise_errors=True)
    pipelines["__default__"] = sum(pipelines.values())
    return pipelines


def all_pipelines() -> dict[str, Pipeline]:
    """Every pipeline of the project, whatever this run asked Kedro to load."""
    return {
        module.name: importlib.import_module(f"{trade_pipeline.pipelines.__name__}.{module.name}").create_pipeline()
        for module in pkgutil.iter_modules(trade_pipeline.pipelines.__path__)
        if module.ispkg
    }
