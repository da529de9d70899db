"""The real search objective at a reduced fidelity, for benchmarks that run it many times.

Shared by ``compare_strategies.py`` (problem ``proxy``), ``proxy_fidelity.py`` and
``teacher_study.py``. The inputs come from a Kedro project in which
``kedro run --pipelines=data,teacher`` has run (``--project``; a throwaway copy of
``pyproject.toml`` and ``conf/`` is enough, so benchmarks never touch your own ``data/``).

``CachedObjective`` memoises every architecture's trial row by spec hash in a JSON-lines file:
every method and seed sees the same value for the same architecture, so neither the CPU's
latency noise nor a lucky training seed can favour one method, and a killed benchmark loses
nothing it evaluated. Candidates are all trained with the same seed (``search.seed``), so an
architecture's value does not depend on when, or by which method, it was first proposed.
The cache holds accuracies and costs of trained students; Eq. 2's score and the budget are
applied when a row is read (``CachedObjective.at``), so one cache serves every target and budget.
Learning curves at ``search.pruning``'s probes (``CachedObjective.curve``) are kept beside it, in
``<cache>-curves.jsonl``, for the students a pruned search asked about.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import hashlib
import json
import logging
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from trade_pipeline.data.split import Split
from trade_pipeline.optim.base import Dimension
from trade_pipeline.search.config import SearchParams
from trade_pipeline.search.costs import CandidateCosts, accuracy_cost_trade_off, composite_objective
from trade_pipeline.search.fidelity import images_seen
from trade_pipeline.search.objective import Candidate, ObjectiveContext, evaluate_candidate
from trade_pipeline.search.pruning import PruneRule
from trade_pipeline.search.score import Budget, KDGuidedScore
from trade_pipeline.search.session import objective_context
from trade_pipeline.training.recipe import ProxyRecipe

logger = logging.getLogger(__name__)
CACHE_FORMAT = 1
"""Raise it when a recipe or profile default changes what a cached row would be."""


@dataclass
class ProjectInputs:
    """What a search reads from a project's catalog and parameters."""

    split: Split
    teacher_profile: dict[str, Any]
    teacher_logits: dict[str, Any]
    search: SearchParams
    teachers: dict[str, Any]  # partition name -> loader of the saved teacher (ModelArtifact)
    teacher_params: Any  # params:teacher (TeacherPipelineParams)
    retrain: Any  # params:retrain (RetrainParams)
    selected: list[dict[str, Any]]  # selected_architectures, empty before a search ran


def load_project(project: str | Path) -> ProjectInputs:
    """The latest saved ``split`` / ``teacher_*`` datasets and the ``search`` parameters of ``project``."""
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    project = Path(project).resolve()
    if not (project / "pyproject.toml").exists():
        raise SystemExit(f"--project {project}: no pyproject.toml there; copy the repository's pyproject.toml "
                         "and conf/ into it and run `kedro run --pipelines=data,teacher` in it first.")
    os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "1")
    bootstrap_project(project)
    with KedroSession.create(project_path=project) as session:
        context = session.load_context()
        catalog = context.catalog
        try:
            split, profile, logits = (catalog.load(name) for name in ("split", "teacher_profile", "teacher_logits"))
            teachers = catalog.load("teachers")
        except Exception as error:  # DatasetError: nothing saved yet
            raise SystemExit(f"--project {project}: {error}\nRun `kedro run --pipelines=data,teacher` there first.")
        selected = catalog.load("selected_architectures") if catalog.exists("selected_architectures") else []
        return ProjectInputs(split, profile, logits, context.params["search"], dict(teachers),
                             context.params["teacher"], context.params["retrain"], selected)


def reduced_params(search: SearchParams, epochs: int, data_fraction: float, warmup_epochs: float | None = None
                   ) -> SearchParams:
    """``search`` with a cheaper proxy task (epochs, share of mini-train, and a warm-up other than
    the project's if given); latency is measured as the search measures it (it costs little beside
    training, and the latency model needs it stable).

    The recipe is re-validated, so a warm-up longer than the shortened run is cut to fit.
    """
    warmup = {} if warmup_epochs is None else {"warmup_epochs": warmup_epochs}
    proxy = ProxyRecipe.model_validate({**search.proxy.model_dump(), "epochs": epochs, "data_fraction": data_fraction,
                                        **warmup})
    return search.model_copy(update={"proxy": proxy})


def fidelity_fingerprint(params: SearchParams, inputs: ProjectInputs, teacher_logits: dict[str, Any]) -> str:
    """8 hex digits naming everything an architecture's accuracy and costs depend on: change the
    teacher, the split, the space or the proxy recipe, and cached rows no longer apply. The budget
    is not among them: it is applied when a row is read. Recipe and profile settings at their
    defaults do not count, so a setting added to the recipe (at a default that changes nothing)
    keeps the caches made before it; a changed default must change ``CACHE_FORMAT``."""
    teacher = teacher_logits["teacher"]
    described = {
        "teacher": teacher,
        "teacher_costs": {key: inputs.teacher_profile[teacher].get(key) for key in ("params", "macs", "latency_ms")},
        "split": inputs.split.fingerprint,
        "space": params.space.model_dump(mode="json"),
        "proxy": params.proxy.model_dump(mode="json", exclude_defaults=True),
        "profile": params.profile.model_dump(mode="json", exclude_defaults=True),
        "format": CACHE_FORMAT,
        "seed": params.seed,
        "device": params.device,
    }
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()[:8]


def objective_value(row: dict[str, Any], score: KDGuidedScore) -> float:
    """log(Score) as the search tells it; NaN for failed or over-budget candidates and for those
    that learned nothing."""
    if row["status"] != "ok" or row.get("proxy_accuracy") is None:
        return math.nan
    return score.log_value(row["proxy_accuracy"], row["resource_ratio"])


class CachedObjective:
    """``n x d`` cube points -> ``n`` log(Score) values, each architecture evaluated once.

    Trained students' rows are appended to ``cache_path`` (one JSON line per architecture, flushed
    and fsynced) as soon as they are known. A student over ``context.budget`` is profiled, not
    trained, and kept out of the file, which so holds only what no budget changes.
    """

    def __init__(self, context: ObjectiveContext, cache_path: str | Path, device: str = "cpu",
                 acc_target: float | None = None) -> None:
        self.context = context
        self.acc_target = context.acc_target if acc_target is None else acc_target
        self.device = device
        self.cache_path = Path(cache_path)
        self.rows = {row["spec_hash"]: row for row in _read_lines(self.cache_path)}
        self.skipped: dict[str, dict[str, Any]] = {}  # over-budget rows seen here, untrained
        self.curves = {(line["spec_hash"], tuple(line["at"])): line for line in _read_lines(self.curves_path)}
        self.evaluated = 0  # architectures trained by this process (cache misses)

    def at(self, acc_target: float | None = None, budget: Budget | None = None) -> CachedObjective:
        """This objective at another target and budget, on the same rows: what one view trains,
        every view reuses."""
        view = copy.copy(self)
        view.acc_target = self.acc_target if acc_target is None else acc_target
        if budget is not None:
            view.context = dataclasses.replace(self.context, budget=budget)
        return view

    @property
    def score(self) -> KDGuidedScore:
        """Eq. 2 at this view's target."""
        return KDGuidedScore(self.acc_target, self.context.epsilon)

    @property
    def dimensions(self) -> tuple[Dimension, ...]:
        return self.context.space.dimensions

    def key(self, point: np.ndarray) -> str:
        """The architecture a point decodes to (its spec hash)."""
        return self.context.space.decode(point).hash

    def network(self, point: np.ndarray) -> str:
        """The network a point builds (its spec's network hash): the search's de-duplication key.
        Rows stay keyed by spec hash, so a method that proposes two specs of one network (Optuna's
        samplers) still gets each its own row."""
        return self.context.space.decode(point).network_hash

    def row(self, point: Sequence[float]) -> dict[str, Any]:
        """The trial row of the architecture ``point`` decodes to under this view's budget,
        evaluating it on a cache miss."""
        key = self.key(np.asarray(point, dtype=float))
        if key in self.rows:
            row = self.rows[key]
            violation = self._violation(row)
            return {**row, "status": "over_budget", "reason": violation, "proxy_accuracy": None} if violation else row
        if key in self.skipped and self._violation(self.skipped[key]):
            return self.skipped[key]
        candidate = Candidate(trial_id=0, iteration=0, point=tuple(float(v) for v in point), trust_region=None)
        row = evaluate_candidate(candidate, self.device, self.context)
        if row["status"] == "over_budget":
            self.skipped[key] = row
            return row
        self._remember(key, row)
        return row

    def _remember(self, key: str, row: dict[str, Any]) -> None:
        self.rows[key] = row
        self.evaluated += 1
        _append_line(self.cache_path, row)

    @property
    def curves_path(self) -> Path:
        """Where the learning curves of ``curve`` are kept, beside the rows."""
        return self.cache_path.with_name(f"{self.cache_path.stem}-curves.jsonl")

    def curve(self, point: Sequence[float], at: tuple[int, ...]) -> list[list[float]] | None:
        """``[updates, mini-val top-1]`` after each of ``at`` updates of the proxy run of the
        architecture ``point`` decodes to (``search.pruning``'s probes; None if it failed or is over
        budget). On a miss the student is trained again with probes: a probe leaves training as it
        was, so the run must end at the cached accuracy (a student the cache lacks joins it)."""
        key = self.key(np.asarray(point, dtype=float))
        row = self.rows.get(key)
        if row is not None and (row["status"] != "ok" or self._violation(row)):
            return None
        if (key, tuple(at)) not in self.curves:
            rule = PruneRule(tuple(at), self.context.proxy_updates, self.score)  # no maps: probes, never stops
            candidate = Candidate(trial_id=0, iteration=0, point=tuple(float(v) for v in point), trust_region=None,
                                  prune=rule)
            probed = evaluate_candidate(candidate, self.device, self.context)
            if probed["status"] == "over_budget":
                self.skipped[key] = probed  # as ``row`` keeps it: ``row`` will not profile it again
            elif row is None:
                self._remember(key, {**probed, "curve": None})
            if probed["status"] != "ok":
                return None
            if row is not None and probed["proxy_accuracy"] != row["proxy_accuracy"]:
                raise RuntimeError(f"student {key}: its probed run ended at {probed['proxy_accuracy']}, the cache "
                                   f"holds {row['proxy_accuracy']}: a probe changed training, or the cache is stale")
            line = {"spec_hash": key, "at": list(at), "curve": probed["curve"]}
            self.curves[(key, tuple(at))] = line
            _append_line(self.curves_path, line)
        return self.curves[(key, tuple(at))]["curve"]

    def _violation(self, row: dict[str, Any]) -> str | None:
        """How ``row``'s measured costs break this view's budget (None: within, or never built)."""
        if row["macs"] is None:
            return None
        return self.context.budget.violation(row["params"], row["macs"], row["latency_ms"], self.context.teacher_costs)

    def __call__(self, points: np.ndarray) -> np.ndarray:
        score = self.score
        return np.array([objective_value(self.row(point), score) for point in np.atleast_2d(points)])

    @property
    def images_per_evaluation(self) -> int:
        """Proxy compute of one trained candidate, in image-epochs."""
        return images_seen(len(self.context.proxy_indices), self.context.proxy)

    def image_epochs(self, points: np.ndarray) -> np.ndarray:
        """``n`` proxy computes in image-epochs: 0 for candidates skipped as over budget."""
        return np.array([0.0 if self.row(point)["status"] == "over_budget" else float(self.images_per_evaluation)
                         for point in np.atleast_2d(points)])

    def accuracy(self, points: np.ndarray) -> np.ndarray:
        """``n`` proxy accuracies (NaN where the candidate failed or was over budget)."""
        return np.array([math.nan if (value := self.row(point)["proxy_accuracy"]) is None else value
                         for point in np.atleast_2d(points)])

    def resource_ratio(self, points: np.ndarray) -> np.ndarray:
        """``n`` Eq. 2 resource ratios ``s`` (NaN where the candidate failed or was over budget)."""
        return np.array([math.nan if (row := self.row(point))["status"] != "ok" else row["resource_ratio"]
                         for point in np.atleast_2d(points)])

    def strategy_structure(self, reference: tuple[float, float] | None = None) -> dict[str, Any]:
        """What the search hands the ``composite`` strategy (fresh cost model per run): its
        objective (or, given a hypervolume ``reference``, the accuracy-``s`` trade-off of
        ``search.objective: pareto``), the budget filter, and ``observe`` to call with every point told."""
        split = self.context.split
        costs = CandidateCosts(self.context.space, split.channels, split.num_classes, self.context.teacher_costs,
                               self.context.budget)
        target = ({"objective": composite_objective(costs, self.score)} if reference is None
                  else {"trade_off": accuracy_cost_trade_off(costs, reference)})
        return {**target, "feasible": costs.within_budget,
                "observe": lambda points: costs.observe(self.row(point) for point in np.atleast_2d(points))}


def cached_rows(out: Path, fingerprint: str) -> list[dict[str, Any]]:
    """The trial rows in the cache ``fingerprint`` under a benchmark's ``--out``, where
    ``proxy_objective_of`` keeps it."""
    return _read_lines(out / "proxy-cache" / f"proxy-{fingerprint}.jsonl")


def _read_lines(path: Path) -> list[dict[str, Any]]:
    """The records of a JSON-lines file (none if it does not exist)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _append_line(path: Path, record: dict[str, Any]) -> None:
    """Appends one record, flushed and fsynced: a killed benchmark loses nothing it evaluated."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        handle.write(json.dumps(record, default=str) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def proxy_objective(project: str | Path, cache_dir: str | Path, epochs: int = 1, data_fraction: float = 0.2,
                    acc_target: float | None = None, warmup_epochs: float | None = None
                    ) -> tuple[CachedObjective, str, SearchParams]:
    """The project's search objective at the given fidelity, memoised under ``cache_dir``, the
    fidelity fingerprint that names the cache, and the search parameters it was made from.

    Sets torch to one thread: a cached row's latency is measured by whichever benchmark trained
    it first, so every benchmark that shares the cache measures alike."""
    torch.set_num_threads(1)
    inputs = load_project(project)
    params = reduced_params(inputs.search, epochs, data_fraction, warmup_epochs)
    fingerprint = fidelity_fingerprint(params, inputs, inputs.teacher_logits)
    context = objective_context(inputs.split, inputs.teacher_profile, inputs.teacher_logits, params)
    objective = CachedObjective(context, Path(cache_dir) / f"proxy-{fingerprint}.jsonl", params.device, acc_target)
    logger.info("proxy objective %s: teacher %s, %d epoch(s) on %.0f%% of mini-train, acc_target %.1f",
                fingerprint, inputs.teacher_logits["teacher"], epochs, 100 * data_fraction, objective.acc_target)
    return objective, fingerprint, params


def proxy_objective_of(args: argparse.Namespace, acc_target: float | None = None
                       ) -> tuple[CachedObjective, str, SearchParams]:
    """:func:`proxy_objective` of a benchmark's ``--project``, ``--out`` and proxy options
    (``common.add_proxy_options``)."""
    return proxy_objective(args.project, args.out / "proxy-cache", args.proxy_epochs, args.proxy_fraction,
                           acc_target=acc_target, warmup_epochs=args.proxy_warmup)


def uniform_rows(objective: CachedObjective, n: int, seed: int = 0, log: Callable[[str], None] = print
                 ) -> list[dict[str, Any]]:
    """Rows of ``n`` distinct students drawn as random search draws them (uniform on the cube),
    all trained (no budget), in drawing order; what the cache lacks is trained now."""
    unlimited = objective.at(budget=Budget())
    rng = np.random.default_rng(seed)
    rows: dict[str, dict[str, Any]] = {}
    while len(rows) < n:
        point = rng.random(len(objective.dimensions))
        key = unlimited.key(point)
        if key not in rows:
            rows[key] = unlimited.row(point)
            if len(rows) % 20 == 0:
                log(f"uniform students: {len(rows)} of {n} ({unlimited.evaluated} trained now)")
    return list(rows.values())
