"""Kedro hooks: refuse a run whose inputs were never saved, keep parameter tracking flat, name
each MLflow run after what ran and mark its experiment as model training (not GenAI)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import mlflow
from kedro.framework.hooks import hook_impl
from kedro.io import MemoryDataset
from kedro.pipeline import Pipeline
from pydantic import BaseModel

from trade_pipeline.errors import InputError
from trade_pipeline.report import OPTIONAL_INPUTS
from trade_pipeline.tracking import mark_stale_runs_killed, owner_tags

# MLflow 3's experiment kind for model training. MLflow 3.17's UI picks its view with a switch
# of its own (docs/tracking.md), but the API and other MLflow versions read the tag.
EXPERIMENT_KIND = ("mlflow.experimentKind", "custom_model_development")


class MissingInputError(InputError):
    """A pipeline input that no earlier run has saved."""


def producers(dataset: str, registered: dict[str, Pipeline]) -> list[str]:
    """The pipelines that output ``dataset``."""
    return sorted(name for name, pipeline in registered.items() if dataset in pipeline.all_outputs())


def check_inputs_saved(pipeline: Pipeline, catalog: Any) -> None:
    """Raises naming each free input of ``pipeline`` that has no saved version, and who makes it.

    An input only the report reads and can go without (``report.OPTIONAL_INPUTS``) is handed to
    it as ``None`` instead, so the report says that stage has not run.
    """
    from trade_pipeline.pipeline_registry import all_pipelines

    registered = all_pipelines()
    missing = [name for name in sorted(pipeline.inputs())
               if not name.startswith("params:") and name != "parameters" and not catalog.exists(name)]
    report = {node.name for node in registered["report"].nodes}
    optional = [name for name in missing if name in OPTIONAL_INPUTS
                and {node.name for node in pipeline.only_nodes_with_inputs(name).nodes} <= report]
    for name in optional:
        catalog[name] = MemoryDataset(None)
    missing = [name for name in missing if name not in optional]
    if not missing:
        return
    lines = []
    for name in missing:
        makers = producers(name, registered)
        hint = f"run `kedro run --pipelines={makers[0]}` first" if makers else "no pipeline makes it"
        lines.append(f"{name} has no saved version yet: {hint}")
    raise MissingInputError("\n".join(lines))


def plain(value: Any) -> Any:
    """A typed parameter section (pydantic model) as the dict it was written as."""
    return value.model_dump(mode="json") if isinstance(value, BaseModel) else value


def run_name(pipeline_names: list[str] | None, parameters: Mapping[str, Any]) -> str:
    """``resnet · turbo · seed 0 · all``: the search teacher, strategy, seed and pipelines, so runs
    of two teachers or strategies tell apart in the MLflow UI's run list (which cuts long names:
    what differs between runs comes first).

    A section the run's pipelines do not read comes unvalidated, without the defaults the
    parameter files leave out; those come from the model.
    """
    from trade_pipeline.search.config import SearchParams

    teacher, search = (plain(parameters.get(section)) or {} for section in ("teacher", "search"))
    strategy, seed = (search.get(key, SearchParams.model_fields[key].default) for key in ("strategy", "seed"))
    pipelines = "+".join(in_flow_order(pipeline_names or ["all"])).replace("__default__", "all")
    return f"{teacher.get('search_teacher')} · {strategy} · seed {seed} · {pipelines}"


def in_flow_order(pipeline_names: list[str]) -> list[str]:
    """``pipeline_names`` in the order their nodes run, whatever order the command line gave."""
    from trade_pipeline.pipeline_registry import all_pipelines

    registered = all_pipelines()
    flow = [node.name for node in sum(registered.values()).nodes]  # topologically sorted

    def first_node(name: str) -> int:  # __default__ is not registered here: it comes first
        return min((flow.index(node.name) for node in registered.get(name, Pipeline([])).nodes), default=-1)

    return sorted(pipeline_names, key=first_node)


def mark_model_training(experiment_name: str) -> None:
    """Gives the experiment the model-training kind unless it has a kind already (a user's choice)."""
    experiment = mlflow.get_experiment_by_name(experiment_name)
    if experiment is not None and EXPERIMENT_KIND[0] not in experiment.tags:
        mlflow.MlflowClient().set_experiment_tag(experiment.experiment_id, *EXPERIMENT_KIND)


class ProjectHooks:
    def __init__(self) -> None:
        self.context: Any = None

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        self.context = context  # kedro-mlflow keeps its mlflow.yml settings on it as ``context.mlflow``

    @hook_impl(tryfirst=True)  # before kedro-mlflow opens a run for a run that cannot start, and names it
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Pipeline, catalog: Any) -> None:
        check_inputs_saved(pipeline, catalog)
        settings = getattr(self.context, "mlflow", None)
        if settings is None:  # kedro-mlflow is not installed or disabled
            return
        if settings.tracking.run.name is None:  # a name set in mlflow.yml wins
            settings.tracking.run.name = run_name(run_params["pipeline_names"], catalog["parameters"].load())
        mark_model_training(settings.tracking.experiment.name)
        mark_stale_runs_killed(settings.tracking.experiment.name)

    @hook_impl(specname="before_pipeline_run", trylast=True)  # after kedro-mlflow opened the run
    def tag_run_owner(self) -> None:
        """Tags the run with its host and process, so a run that dies unended is found later."""
        if mlflow.active_run() is not None:
            mlflow.set_tags(owner_tags())

    @hook_impl(tryfirst=True)
    def before_node_run(self, inputs: dict[str, Any]) -> None:
        """Typed parameter sections (pydantic models) reach the next hooks, kedro-mlflow's
        parameter logging among them, as plain dicts it flattens into ``search.proxy.lr``…

        ``inputs`` is the runner's copy shared by the hooks, not what the node receives.
        """
        for name, value in inputs.items():
            if name.startswith("params:"):
                inputs[name] = plain(value)
