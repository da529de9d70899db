"""Search strategies compared at equal budget (paper Fig. 7).

Every method sees, per seed, the same problem, the same encoding of the search space and the
same initial design (a Latin hypercube of TuRBO's derived design size, snapped to levels,
told before the first ask); then each proposes the rest of the budget, ``--batch`` points
at a time:

  * ``composite`` (the default), ``turbo`` (type-aware, the paper's black box),
    ``turbo_continuous``, ``random``, ``evolution``, ``lamcts``, ``rl``: trade_pipeline's
    strategies behind ask/tell (TuRBO with conf/base's ``n_candidates: 1000``; the ``proxy``
    problem uses the project's ``search.<strategy>``). On ``proxy``, ``composite`` is told each
    candidate's proxy accuracy and gets the search's known costs and budget filter; on the
    analytic problems nothing is known beyond the value, and it is the type-aware TuRBO;
  * ``tpe``, ``gp``: Optuna's ``TPESampler`` / ``GPSampler`` (default settings, ``seed``)
    through Optuna's own ask/tell, one ``FloatDistribution(0, 1)`` per continuous
    coordinate, ``IntDistribution(0, levels - 1)`` per ordinal, ``CategoricalDistribution``
    per categorical (levels map to bin centres); the design is added as finished trials.
    ``tpe_c``, ``gp_c`` (``proxy`` only): the same with ``constraints_func``, accuracy >=
    Eq. 2's target as the constraint. Optuna is in the ``test`` and ``bench`` extras.

Problems: the analytic ones of ``problems.py`` (known optimum 0: the value is the regret);
``nb201``: NAS-Bench-201's table scored by Eq. 2 at the targets of its regimes (``nb201.py``;
the value is the regret; one report per regime, ``compare_nb201_<regime>_<budget>``, and the
regimes' targets in ``compare_nb201_regimes.json``); or ``proxy``: the real search objective (log Score, Eq. 2) of the project at ``--project``, at a
reduced fidelity (``--proxy-epochs`` on ``--proxy-fraction`` of mini-train, ``--proxy-warmup``
if not the project's warm-up, one latency repeat), each architecture evaluated once and memoised for all methods, seeds, targets and budgets
(``proxy_objective.py``). ``proxy --regimes`` runs it in the regimes of ``regimes.py`` instead of
at one target: ``--uniform`` students drawn as random search draws them set the targets met by
40 / 10 / 2 % of them (``binding``, ``strict``, ``needle``) and ``budget``'s MACs limit (the
strict target, half of them over the limit); one report per regime,
``compare_proxy_<regime>_<budget>``, and the regimes in ``compare_proxy_regimes.json``.

Raw results: one CSV per (problem, budget, method, seed) under ``--out``, written when the
run finishes, with columns ``RUN_COLUMNS``; runs already there are skipped, so a killed
benchmark resumes. The report (made at the end, or alone with ``--report-only``) reads
whatever is there: anytime curves (median and interquartile band over seeds) as
``docs/figures/compare_<problem>_<budget>.png`` and ``.csv``, and a table (``.md``); on ``proxy``
also the best against proxy compute (``_compute.png`` / ``.csv``: over-budget candidates cost nothing).

    nice -n 10 python benchmarks/compare_strategies.py base_space --seeds 0-19
    nice -n 10 python benchmarks/compare_strategies.py ackley20 --budget 400 --methods turbo tpe random --seeds 0-9
    nice -n 10 python benchmarks/compare_strategies.py proxy --project /tmp/bench_project --seeds 0-4
    nice -n 10 python benchmarks/compare_strategies.py nb201 --seeds 0-9          # binding, strict, needle
    nice -n 10 python benchmarks/compare_strategies.py proxy --project /tmp/bench_project --regimes --seeds 0-9 \
        --methods composite random tpe tpe_c turbo --proxy-epochs 2 --proxy-fraction 0.5
    nice -n 10 python benchmarks/compare_strategies.py base_space --methods turbo --seeds 0-9 \\
        --set success_tolerance=2 failure_tolerance=2 length_min=0.05 n_init=25   # App. C's settings

``--set`` results are kept apart (``<problem>_<budget>_<overrides>``).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch

from trade_pipeline.optim import OPTIMIZERS, TurboConfig, create_optimizer
from trade_pipeline.optim.base import Dimension
from trade_pipeline.optim.choices import snap_to_levels
from trade_pipeline.optim.trust_region import latin_hypercube, resolve_config

from common import add_proxy_options
from problems import PROBLEMS, make_problem

if TYPE_CHECKING:
    from proxy_objective import CachedObjective

    from trade_pipeline.search.config import SearchParams

ROOT = Path(__file__).resolve().parents[1]
OURS = ("composite", "turbo", "turbo_continuous", "random", "evolution", "lamcts", "rl")
OPTUNA = ("tpe", "gp", "tpe_c", "gp_c")
OPTUNA_FRONT = ("nsga2", "motpe", "mogp")
"""Optuna's multi-objective samplers (``proxy --objective pareto`` only): NSGA-II, TPE and GP."""
NSGA2_POPULATION = 10
"""NSGA-II's generation size: Optuna's default 50 would leave a 50-evaluation run one random generation."""
METHODS = OURS + OPTUNA + OPTUNA_FRONT
FRONT_METHODS = ("composite", "random", "evolution", *OPTUNA_FRONT)
"""The strategies that grow a front."""


def default_methods(objective: str) -> list[str]:
    """What runs unless ``--methods`` says otherwise: every method that suits the objective."""
    return list(FRONT_METHODS if objective == "pareto" else OURS + OPTUNA)

REGIME_TARGETS = ("binding", "strict", "needle")
"""The regimes whose targets Eq. 2 is read at off a Pareto search's front (``budget`` adds a budget)."""
RUN_COLUMNS = ("problem", "budget", "method", "seed", "evaluation", "phase", "value", "best", "optimizer_seconds", "key",
               "image_epochs")
"""One row per evaluation: ``evaluation`` counts from 1; ``phase`` is ``design`` (shared) or
``search``; ``value`` is the objective (NaN: failed or over budget), ``best`` the lowest
finite value so far; ``optimizer_seconds`` the ask + tell time of the point's batch divided
by the batch's size (0 for the design); ``key`` the architecture's spec hash and ``image_epochs``
the proxy compute the evaluation spent (0 when skipped as over budget) (proxy only)."""
CONF_BASE_TURBO = {"n_candidates": 1000}  # conf/base/parameters_search.yml: search.turbo and search.composite
TURBOS = ("composite", "turbo", "turbo_continuous")  # the strategies the analytic problems' --set options reach


@dataclass
class Problem:
    """A minimisation problem on ``[0, 1]^d`` as every method sees it."""

    name: str
    dimensions: tuple[Dimension, ...]
    objective: Callable[[np.ndarray], np.ndarray]  # n x d -> n
    budget: int
    key: Callable[[np.ndarray], str] | None = None  # point -> what it encodes (spec hash)
    network: Callable[[np.ndarray], str] | None = None  # point -> the network it builds (the search's key)
    strategy_options: Callable[[str], dict] = lambda strategy: {}
    outcome: Callable[[np.ndarray], np.ndarray] | None = None  # n x d -> n black-box outcomes (proxy accuracy)
    outcome_sd: Callable[[np.ndarray], np.ndarray] | None = None  # n x d -> n: an estimated outcome's deviation
    outcome_target: float | None = None  # the constrained Optuna samplers' outcome >= target
    structure: Callable[[], dict] | None = None  # fresh per run: composite's objective, feasible, observe
    compute: Callable[[np.ndarray], np.ndarray] | None = None  # n x d -> n proxy computes (image-epochs)
    feasible_share: float | None = None  # share of all candidates that meet outcome_target, where known
    cost: Callable[[np.ndarray], np.ndarray] | None = None  # n x d -> n: a trade-off's known cost axis (s)
    progress: Callable[[np.ndarray], np.ndarray] | None = None  # all points in order -> the best so far
    # of each (a trade-off: its front's hypervolume, higher is better); None: the lowest value so far

    @property
    def dim(self) -> int:
        return len(self.dimensions)

    def canonicalize(self, point: np.ndarray) -> object:
        """Points that build the same thing are one candidate (the search's network hash)."""
        if self.network is not None:
            return self.network(point)
        if self.key is not None:
            return self.key(point)
        return tuple(snap_to_levels(point, self.dimensions)[0].round(12).tolist())


def analytic_problem(name: str, turbo_options: dict) -> Problem:
    dimensions, objective, budget = make_problem(name)
    return Problem(name, tuple(dimensions), objective, budget,
                   strategy_options=lambda s: dict(turbo_options) if s in TURBOS else {})


def shared_design(problem: Problem, budget: int, batch: int, seed: int, size: int | None = None) -> np.ndarray:
    """``n x d`` initial design of ``seed``: the size TuRBO derives for this budget unless ``size`` is given."""
    if size is None:
        options = problem.strategy_options("turbo")
        config = TurboConfig.model_validate({**(options.pop("config", None) or TurboConfig()).model_dump(), **options})
        size = resolve_config(config, problem.dim, batch, budget).n_init
    return snap_to_levels(latin_hypercube(size, problem.dim, 10_000 + seed), problem.dimensions)


def run_ours(method: str, problem: Problem, seed: int, budget: int, batch: int,
             design: np.ndarray, design_values: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """(points, values, ask + tell seconds) per batch after the design, for a trade_pipeline strategy."""
    options = {"dimensions": problem.dimensions, "max_evaluations": budget, "canonicalize": problem.canonicalize}
    options.update(problem.strategy_options(method))
    if "batch_size" in OPTIMIZERS[method].takes:
        options["batch_size"] = batch
    observe = None
    structure = problem.structure() if problem.structure is not None else {}
    if set(structure) & OPTIMIZERS[method].takes:  # told the objective's structure (or the trade-off)
        observe = structure.pop("observe")
        options.update(structure)

    def tell(points: np.ndarray, values: np.ndarray) -> None:
        optimizer.tell(points, values, problem.outcome(points) if problem.outcome else None,
                       problem.outcome_sd(points) if problem.outcome_sd else None)
        if observe is not None:
            observe(points)

    optimizer = create_optimizer(method, problem.dim, seed, **options)
    tell(design, design_values)
    batches = []
    while len(optimizer.values) < budget:
        start = time.perf_counter()
        points = optimizer.ask(min(batch, budget - len(optimizer.values)))
        asked = time.perf_counter() - start
        if not len(points):
            break
        values = problem.objective(points)
        start = time.perf_counter()
        tell(points, values)
        batches.append((points, values, asked + time.perf_counter() - start))
    return batches


def optuna_distributions(dimensions: Sequence[Dimension]) -> dict:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    def one(dimension: Dimension):
        if dimension.kind == "continuous":
            return FloatDistribution(0.0, 1.0)
        if dimension.kind == "ordinal":
            return IntDistribution(0, dimension.levels - 1)
        return CategoricalDistribution(list(range(dimension.levels)))

    return {f"x{j}": one(dimension) for j, dimension in enumerate(dimensions)}


def to_optuna(point: np.ndarray, dimensions: Sequence[Dimension]) -> dict:
    """A cube point as Optuna parameters: levels for discrete coordinates, the value otherwise."""
    return {f"x{j}": int(d.level(point[j : j + 1])[0]) if d.discrete else float(point[j])
            for j, d in enumerate(dimensions)}


def from_optuna(params: dict, dimensions: Sequence[Dimension]) -> np.ndarray:
    """Optuna parameters as a cube point: bin centres for discrete coordinates."""
    return np.array([float(d.centre(params[f"x{j}"])) if d.discrete else float(params[f"x{j}"])
                     for j, d in enumerate(dimensions)])


def run_optuna(method: str, problem: Problem, seed: int, budget: int, batch: int,
               design: np.ndarray, design_values: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """As ``run_ours`` for Optuna's TPE or GP sampler; failures (NaN) are told as failed trials.

    ``tpe_c`` / ``gp_c`` add ``constraints_func``: ``outcome_target - outcome <= 0`` is feasible,
    stored as a user attribute before each tell (and as Optuna's own constraint record on the
    design's trials, which are added finished and never pass through ``after_trial``).
    """
    import optuna
    from optuna.trial import TrialState, create_trial

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    warnings.filterwarnings("ignore", message=".*constraints_func.*deprecated")  # Optuna 5 still honours it
    constrained = method.endswith("_c")
    if constrained and (problem.outcome is None or problem.outcome_target is None):
        raise SystemExit(f"{method} needs a problem with an outcome and its target (proxy)")

    def constraint(points: np.ndarray) -> list[float]:
        if not constrained:
            return [0.0] * len(points)
        return [problem.outcome_target - o if np.isfinite(o) else math.inf for o in problem.outcome(points)]

    sampler_class = optuna.samplers.TPESampler if method.startswith("tpe") else optuna.samplers.GPSampler
    sampler = sampler_class(seed=seed, **({"constraints_func": lambda t: (t.user_attrs["constraint"],)}
                                          if constrained else {}))
    study = optuna.create_study(direction="minimize", sampler=sampler)
    distributions = optuna_distributions(problem.dimensions)
    study.add_trials([
        create_trial(params=to_optuna(point, problem.dimensions), distributions=distributions,
                     **({"value": float(value)} if np.isfinite(value) else {"state": TrialState.FAIL}),
                     **({"user_attrs": {"constraint": c}, "system_attrs": {"constraints": (c,)}} if constrained else {}))
        for point, value, c in zip(design, design_values, constraint(design))
    ])

    def tell(trials: list, points: np.ndarray, values: np.ndarray) -> None:
        for trial, value, c in zip(trials, values, constraint(points)):
            if constrained:
                trial.set_user_attr("constraint", c)
            if np.isfinite(value):
                study.tell(trial, float(value))
            else:
                study.tell(trial, state=TrialState.FAIL)

    return optuna_batches(study, problem, budget, batch, len(design), tell)


def optuna_batches(study, problem: Problem, budget: int, batch: int, told: int,
                   tell: Callable[[list, np.ndarray, np.ndarray], None]) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """Asks an Optuna study ``batch`` trials at a time until ``budget`` evaluations (``told`` done),
    evaluates them, and ``tell(trials, points, values)`` tells each its result; the batches as
    ``run_ours`` gives them."""
    distributions = optuna_distributions(problem.dimensions)
    batches = []
    while told < budget:
        start = time.perf_counter()
        trials = [study.ask(distributions) for _ in range(min(batch, budget - told))]
        asked = time.perf_counter() - start
        points = np.array([from_optuna(trial.params, problem.dimensions) for trial in trials])
        values = problem.objective(points)
        start = time.perf_counter()
        tell(trials, points, values)
        batches.append((points, values, asked + time.perf_counter() - start))
        told += len(trials)
    return batches


def run_optuna_front(method: str, problem: Problem, seed: int, budget: int, batch: int,
                     design: np.ndarray, design_values: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """As ``run_optuna`` for Optuna's multi-objective samplers on a trade-off: each trial is told
    (outcome, cost) to maximise and minimise; NSGA-II with ``NSGA2_POPULATION``, the others at
    their defaults."""
    import optuna
    from optuna.trial import TrialState, create_trial

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    if problem.cost is None or problem.outcome is None:
        raise SystemExit(f"{method} needs a trade-off problem (proxy --objective pareto)")
    samplers = {"nsga2": partial(optuna.samplers.NSGAIISampler, population_size=NSGA2_POPULATION),
                "motpe": optuna.samplers.TPESampler, "mogp": optuna.samplers.GPSampler}
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=samplers[method](seed=seed))
    distributions = optuna_distributions(problem.dimensions)

    def objectives(points: np.ndarray) -> list[list[float] | None]:
        pairs = zip(problem.outcome(points), problem.cost(points))
        return [[float(o), float(c)] if np.isfinite(o) and np.isfinite(c) else None for o, c in pairs]

    study.add_trials([create_trial(params=to_optuna(point, problem.dimensions), distributions=distributions,
                                   **({"values": pair} if pair else {"state": TrialState.FAIL}))
                      for point, pair in zip(design, objectives(design))])

    def tell(trials: list, points: np.ndarray, values: np.ndarray) -> None:
        for trial, pair in zip(trials, objectives(points)):
            if pair:
                study.tell(trial, pair)
            else:
                study.tell(trial, state=TrialState.FAIL)

    return optuna_batches(study, problem, budget, batch, len(design), tell)


def run_one(method: str, problem: Problem, seed: int, budget: int, batch: int, design: np.ndarray,
            design_values: np.ndarray) -> pd.DataFrame:
    """One run's rows (``RUN_COLUMNS``)."""
    runner = run_optuna if method in OPTUNA else run_optuna_front if method in OPTUNA_FRONT else run_ours
    batches = runner(method, problem, seed, budget, batch, design, design_values)
    points = [design] + [p for p, _, _ in batches]
    values = np.concatenate([design_values] + [v for _, v, _ in batches])
    seconds = np.concatenate([np.zeros(len(design))] + [np.full(len(p), s / len(p)) for p, _, s in batches])
    keys = [problem.key(p) if problem.key else "" for p in np.vstack(points)]
    compute = problem.compute(np.vstack(points)) if problem.compute else np.full(len(values), np.nan)
    if problem.progress is not None:
        best = problem.progress(np.vstack(points))
    else:
        best = np.minimum.accumulate(np.where(np.isnan(values), np.inf, values))
    return pd.DataFrame({
        "problem": problem.name, "budget": budget, "method": method, "seed": seed,
        "evaluation": np.arange(1, len(values) + 1),
        "phase": ["design"] * len(design) + ["search"] * (len(values) - len(design)),
        "value": values, "best": np.where(np.isinf(best), np.nan, best),
        "optimizer_seconds": seconds, "key": keys, "image_epochs": compute,
    }, columns=list(RUN_COLUMNS))


def run_path(out: Path, tag: str, method: str, seed: int) -> Path:
    return out / tag / f"{method}-seed{seed}.csv"


def run_all(problem: Problem, methods: Sequence[str], seeds: Sequence[int], budget: int, batch: int, out: Path,
            tag: str, design_size: int | None = None, log: Callable[[str], None] = print) -> list[Path]:
    """Runs every missing (method, seed), seeds outermost; returns the CSVs written."""
    written = []
    for seed in seeds:
        todo = [m for m in methods if not run_path(out, tag, m, seed).exists()]
        if not todo:
            continue
        design = shared_design(problem, budget, batch, seed, design_size)
        design_values = problem.objective(design)
        for method in todo:
            start = time.perf_counter()
            frame = run_one(method, problem, seed, budget, batch, design, design_values)
            path = run_path(out, tag, method, seed)
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(".csv.tmp")
            frame.to_csv(partial, index=False)
            os.replace(partial, path)  # a killed run leaves no half-written CSV
            written.append(path)
            log(f"{tag} {method} seed={seed} best={frame['best'].iloc[-1]:.4g} "
                f"optimizer_s={frame['optimizer_seconds'].sum():.1f} wall_s={time.perf_counter() - start:.1f}")
    return written


def parse_seeds(items: Sequence[str]) -> list[int]:
    """``0 1 2`` or ranges ``0-19``."""
    seeds: list[int] = []
    for item in items:
        low, _, high = item.partition("-")
        seeds += list(range(int(low), int(high) + 1)) if high else [int(low)]
    return seeds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("problem", choices=(*PROBLEMS, "proxy", "nb201"))
    parser.add_argument("--methods", nargs="+", default=None, choices=METHODS,
                        help="default: every method the objective suits (pareto: the front-growing ones; "
                             "otherwise all but Optuna's multi-objective samplers)")
    parser.add_argument("--seeds", nargs="+", default=["0-4"], help="e.g. 0 1 2 or 0-19")
    parser.add_argument("--budget", type=int, default=None, help="evaluations per run (default: the problem's; proxy: 50)")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--design-size", type=int, default=None, help="default: TuRBO's derived n_init")
    parser.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE", help="TurboConfig overrides (analytic)")
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "benchmarks" / "compare_strategies")
    parser.add_argument("--figures", type=Path, default=ROOT / "docs" / "figures")
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--checkpoints", nargs="*", type=int, default=None,
                        help="evaluations to tabulate besides the last (default: 50 when the budget is larger)")
    parser.add_argument("--project", type=Path, default=ROOT, help="proxy: a project where data,teacher ran")
    add_proxy_options(parser, epochs=1, fraction=0.2)
    parser.add_argument("--acc-target", type=float, default=None, help="proxy: Eq. 2's target (default: the project's)")
    parser.add_argument("--regimes", nargs="*", default=None,
                        help="nb201: which of its regimes (default: all); proxy: run these regimes (given alone: all) "
                             "instead of the one --acc-target")
    parser.add_argument("--uniform", type=int, default=200, help="proxy --regimes: uniform students that set the targets")
    parser.add_argument("--objective", choices=("eq2", "pareto"), default="eq2",
                        help="proxy: pareto compares searches of the accuracy-s front by its hypervolume, and reads "
                             "Eq. 2's best off each front at the --regimes' targets")
    args = parser.parse_args()
    args.methods = args.methods or default_methods(args.objective)
    torch.set_num_threads(1)
    logging.basicConfig(level=logging.WARNING)
    args.figures.mkdir(parents=True, exist_ok=True)
    turbo_options = {**CONF_BASE_TURBO, **{k: _number(v) for k, v in (item.split("=", 1) for item in args.set)}}
    from strategy_report import write_report  # benchmarks/strategy_report.py

    if args.problem == "nb201":
        problems = nb201_problems(args.regimes, args.budget or 50, turbo_options, args.set)
        regimes = {problem.name.removeprefix("nb201_"): {"target": problem.outcome_target,
                                                         "feasible_share": problem.feasible_share}
                   for problem, _ in problems}
        (args.figures / "compare_nb201_regimes.json").write_text(json.dumps(regimes, indent=2) + "\n")
        run_regimes([(problem, tag, f"compare_{tag}") for problem, tag in problems], args, optimum_known=True)
        return
    if args.problem == "proxy" and args.objective == "pareto":
        run_pareto(args)
        return
    if args.problem == "proxy" and args.regimes is not None:
        if args.acc_target is not None:
            raise SystemExit("--acc-target and --regimes: a regime sets its own target; give one or the other")
        run_regimes(proxy_regime_problems(args), args, optimum_known=False)
        return
    if args.problem == "proxy":
        problem, tag = proxy_problem(args)
    else:
        problem = analytic_problem(args.problem, turbo_options)
        problem.budget = args.budget or problem.budget
        tag = "_".join([args.problem, str(problem.budget), *sorted(args.set)])  # overrides get their own results
    if not args.report_only:
        run_all(problem, args.methods, parse_seeds(args.seeds), problem.budget, args.batch, args.out, tag,
                args.design_size)
    checkpoints = args.checkpoints if args.checkpoints is not None else ([50] if problem.budget > 50 else [])
    print(write_report(args.out / tag, args.figures, f"compare_{tag if args.problem != 'proxy' else f'proxy_{problem.budget}'}",
                       title=tag, optimum_known=args.problem != "proxy", checkpoints=checkpoints))


def run_regimes(problems: Sequence[tuple[Problem, str, str]], args: argparse.Namespace, optimum_known: bool) -> None:
    """Runs (unless ``--report-only``) and reports each regime's ``(problem, run tag, report stem)``."""
    from strategy_report import write_report  # benchmarks/strategy_report.py

    for problem, tag, stem in problems:
        if not args.report_only:
            run_all(problem, args.methods, parse_seeds(args.seeds), problem.budget, args.batch, args.out, tag,
                    args.design_size)
        print(write_report(args.out / tag, args.figures, stem, title=tag, optimum_known=optimum_known, checkpoints=[]))


def proxy_problem(args: argparse.Namespace) -> tuple[Problem, str]:
    """The project's objective at the reduced fidelity; the tag names the fidelity fingerprint."""
    from proxy_objective import proxy_objective_of

    objective, fingerprint, search = proxy_objective_of(args, acc_target=args.acc_target)
    budget = args.budget or 50
    return as_problem("proxy", objective, search, budget), f"proxy-{fingerprint}-target{objective.acc_target:g}_{budget}"


def proxy_regime_problems(args: argparse.Namespace) -> list[tuple[Problem, str, str]]:
    """(problem, run tag, report stem) per regime of ``regimes.py`` on the project's objective:
    the targets (and the budget regime's MACs limit) are set by ``--uniform`` students drawn as
    random search draws them, recorded in ``compare_proxy_regimes.json``. Each regime replaces the
    project's ``search.budget`` with its own (none but ``budget``'s)."""
    from proxy_objective import proxy_objective_of, uniform_rows
    from regimes import proxy_regimes

    from trade_pipeline.search.score import Budget

    objective, fingerprint, search = proxy_objective_of(args)
    regimes = proxy_regimes(uniform_rows(objective, args.uniform), objective.context.teacher_costs["macs"])
    (args.figures / "compare_proxy_regimes.json").write_text(
        json.dumps({regime: {**values, "proxy_cache": fingerprint} for regime, values in regimes.items()}, indent=2)
        + "\n")
    unknown = set(args.regimes) - set(regimes)
    if unknown:
        raise SystemExit(f"--regimes: unknown {sorted(unknown)}; use some of {list(regimes)}")
    budget = args.budget or 50
    problems = []
    for regime in args.regimes or regimes:
        view = objective.at(regimes[regime]["target"], Budget(max_macs_ratio=regimes[regime]["max_macs_ratio"]))
        problems.append((as_problem(f"proxy_{regime}", view, search, budget), f"proxy-{fingerprint}-{regime}_{budget}",
                         f"compare_proxy_{regime}_{budget}"))
    return problems


def project_settings(search: SearchParams) -> Callable[[str], dict]:
    """Each strategy's settings as the project sets them (``search.<its block>``)."""

    def options(strategy: str) -> dict:
        config_class = OPTIMIZERS[strategy].config_class
        if config_class is None:
            return {}
        block = type(search).option_blocks()[config_class]
        return {"config": getattr(search, block)}

    return options


def as_problem(name: str, objective: CachedObjective, search: SearchParams, budget: int) -> Problem:
    """A ``CachedObjective`` as every method sees it: each strategy with the project's settings."""
    return Problem(name, objective.dimensions, objective, budget, key=objective.key, network=objective.network,
                   strategy_options=project_settings(search), outcome=objective.accuracy,
                   outcome_target=objective.acc_target, structure=objective.strategy_structure,
                   compute=objective.image_epochs)


def pareto_problem(objective: CachedObjective, search: SearchParams, budget: int) -> Problem:
    """The accuracy-``s`` trade-off of ``search.objective: pareto`` on the project's objective, with
    no budget: strategies are told log(s / accuracy) as the search tells them
    (``ObjectiveContext.told_value``), ``composite`` and ``evolution`` the trade-off, Optuna's
    multi-objective samplers (accuracy, s); the progress is the front's hypervolume from the
    project's ``search.pareto`` reference."""
    from trade_pipeline.optim.hypervolume import hypervolume_trace

    reference = search.pareto.reference(objective.context.budget, objective.context.split.num_classes)

    def told(points: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(objective.resource_ratio(points) / objective.accuracy(points))

    return Problem("proxy_pareto", objective.dimensions, told, budget, key=objective.key, network=objective.network,
                   strategy_options=project_settings(search), outcome=objective.accuracy,
                   structure=partial(objective.strategy_structure, reference), compute=objective.image_epochs,
                   cost=objective.resource_ratio,
                   progress=lambda points: hypervolume_trace(objective.accuracy(points),
                                                             objective.resource_ratio(points), reference))


def run_pareto(args: argparse.Namespace) -> None:
    """``proxy --objective pareto``: runs (unless ``--report-only``) and reports the front's
    hypervolume per method (``compare_proxy_pareto_<budget>``), then Eq. 2's best on each run's
    front at the targets of ``compare_proxy_regimes.json`` against the Eq. 2 searches there
    (``compare_proxy_pareto_<budget>_targets``)."""
    from proxy_objective import proxy_objective_of
    from strategy_report import write_pareto_report, write_target_report

    from trade_pipeline.search.score import Budget

    objective, fingerprint, search = proxy_objective_of(args)
    budget = args.budget or 50
    problem = pareto_problem(objective.at(budget=Budget()), search, budget)
    tag = f"proxy-{fingerprint}-pareto_{budget}"
    if not args.report_only:
        run_all(problem, args.methods, parse_seeds(args.seeds), budget, args.batch, args.out, tag, args.design_size)
    stem = f"compare_proxy_pareto_{budget}"
    print(write_pareto_report(args.out / tag, args.figures, stem, title=tag))
    regimes = json.loads((args.figures / "compare_proxy_regimes.json").read_text())
    eq2_runs = {regime: args.out / f"proxy-{fingerprint}-{regime}_{budget}" for regime in args.regimes or REGIME_TARGETS}
    print(write_target_report(args.out / tag, eq2_runs, regimes, objective, args.figures, f"{stem}_targets"))


def settings_for(strategy: str, options: dict) -> dict:
    """The ``options`` that ``strategy``'s settings have (``--set`` may name one strategy's only)."""
    config_class = OPTIMIZERS[strategy].config_class
    return {key: value for key, value in options.items() if config_class and key in config_class.model_fields}


def nb201_problems(regimes: Sequence[str] | None, budget: int, turbo_options: dict, overrides: Sequence[str]
                   ) -> list[tuple[Problem, str]]:
    """NAS-Bench-201 at each regime's target (``nb201.py``), as every method sees it; the value is
    the regret. ``composite`` is told the cost ratios; the constrained Optuna samplers the target."""
    from nb201 import REGIMES, NB201Problem, load_table

    table = load_table()
    problems = []
    for regime in regimes or REGIMES:
        if regime not in REGIMES:
            raise SystemExit(f"--regimes: unknown regime {regime!r}; use some of {list(REGIMES)}")
        nb201 = NB201Problem.at_regime(table, regime)
        problem = Problem(f"nb201_{regime}", nb201.dimensions, nb201.regret, budget, key=nb201.key,
                          strategy_options=partial(settings_for, options=turbo_options),
                          outcome=nb201.accuracy, outcome_target=nb201.target, feasible_share=nb201.feasible_share,
                          structure=lambda nb201=nb201: {"objective": nb201.composite_objective(), "observe": None})
        problems.append((problem, "_".join([f"nb201_{regime}_{budget}", *sorted(overrides)])))
    return problems


def _number(text: str) -> float | int | bool:
    if text in ("true", "false"):
        return text == "true"
    return int(text) if text.lstrip("-").isdigit() else float(text)


if __name__ == "__main__":
    main()
