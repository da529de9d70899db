"""Kedro hooks: refuse a run whose inputs were never saved, and keep parameter tracking flat."""
from __future__ import annotations

from typing import Any

from kedro.framework.hooks import hook_impl
from kedro.pipeline import Pipeline
from pydantic import BaseModel

from trade_pipeline.errors import InputError


class MissingInputError(InputError):
    """A pipeline input that no earlier run has saved."""


def producers(dataset: str, registered: dict[str, Pipeline]) -> list[str]:
    """The pipelines that output ``dataset``."""
    return sorted(name for name, pipeline in registered.items() if dataset in pipeline.all_outputs())


def check_inputs_saved(pipeline: Pipeline, catalog: Any) -> None:
    """Raises naming each free input of ``pipeline`` that has no saved version, and who makes it."""
    missing = [name for name in sorted(pipeline.inputs())
               if not name.startswith("params:") and name != "parameters" and not catalog.exists(name)]
    if not missing:
        return
    from trade_pipeline.pipeline_registry import all_pipelines

    registered = all_pipelines()
    lines = []
    for name in missing:
        makers = producers(name, registered)
        hint = f"run `kedro run --pipelines={makers[0]}` first" if makers else "no pipeline makes it"
        lines.append(f"{name} has no saved version yet: {hint}")
    raise MissingInputError("\n".join(lines))


class ProjectHooks:
    @hook_impl(tryfirst=True)  # before kedro-mlflow opens a run for a run that cannot start
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Pipeline, catalog: Any) -> None:
        check_inputs_saved(pipeline, catalog)

    @hook_impl(tryfirst=True)
    def before_node_run(self, inputs: dict[str, Any]) -> None:
        """Typed parameter sections (pydantic models) reach the next hooks, kedro-mlflow's
        parameter logging among them, as plain dicts it flattens into ``search.proxy.lr``…

        ``inputs`` is the runner's copy shared by the hooks, not what the node receives.
        """
        for name, value in inputs.items():
            if name.startswith("params:") and isinstance(value, BaseModel):
                inputs[name] = value.model_dump(mode="json")
