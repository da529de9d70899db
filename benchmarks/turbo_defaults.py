"""Figures behind TuRBO's budget-aware defaults (docs/turbo.md): best value per seed and strategy.

Problems (known optimum 0, so the best value is the regret):
  * ``ackley20``: Ackley on [-5, 10]^20, all continuous (the TuRBO paper's test); 400 evaluations.
  * ``choices``: 32 choices (19 two-level and 5 three-level ordinals, 4 two-choice and 4
    four-choice categoricals); weighted distances to a hidden target plus pairwise
    interactions; 50 evaluations.
  * ``base_space``: the same function on exactly conf/base's kinds (19 two-level and 5
    three-level ordinals, 8 two-choice categoricals): the search's own ask+tell cost.
  * ``ackley_mixed``: Ackley on an integer grid, 10 ordinal coordinates (levels -2..4) and
    10 categorical ones (the same 7 values, shuffled); 50 evaluations.
Strategies: ``turbo`` (type-aware), ``turbo_continuous``, ``random``, ``tpe`` (Optuna, if
installed). ``--set field=value`` overrides a TurboConfig field, e.g. App. C's settings:

    nice -n 10 python benchmarks/turbo_defaults.py ackley20 --seeds 0 1 2 \\
        --set success_tolerance=2 failure_tolerance=2 length_min=0.05

Prints one line per run (best value, seconds per ask+tell) and the median best per strategy.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from trade_pipeline.optim.base import Dimension
from trade_pipeline.optim.random_search import RandomSearch
from trade_pipeline.optim.turbo import ContinuousTurbo, Turbo


PROBLEMS = ("ackley20", "choices", "base_space", "ackley_mixed")


def ackley(x: np.ndarray) -> np.ndarray:
    """``n x d`` real points -> ``n`` values; minimum 0 at the origin."""
    return (
        -20.0 * np.exp(-0.2 * np.sqrt((x**2).mean(-1)))
        - np.exp(np.cos(2.0 * np.pi * x).mean(-1))
        + 20.0
        + np.e
    )


def levels_of(points: np.ndarray, dimensions: list[Dimension]) -> np.ndarray:
    """``n x d`` unit-cube points -> ``n x d`` integer levels (discrete coordinates only)."""
    return np.stack([d.level(points[:, j]) for j, d in enumerate(dimensions)], axis=1)


def make_problem(name: str):
    """(dimensions, objective on ``n x d`` unit points, default budget)."""
    if name == "ackley20":
        return [Dimension()] * 20, lambda u: ackley(-5.0 + 15.0 * u), 400
    rng = np.random.default_rng(0)  # one fixed problem; seeds vary the optimizers
    if name == "ackley_mixed":
        dims = [Dimension("ordinal", 7)] * 10 + [Dimension("categorical", 7)] * 10
        grid = np.arange(-2, 5)  # the optimum 0 is level 2 of the ordinals
        values = np.array([grid if j < 10 else rng.permutation(grid) for j in range(20)])
        return dims, lambda u: ackley(np.take_along_axis(values.T, levels_of(u, dims), axis=0)), 50
    if name in ("choices", "base_space"):
        four_choices = 4 if name == "choices" else 2
        dims = ([Dimension("ordinal", 2)] * 19 + [Dimension("ordinal", 3)] * 5
                + [Dimension("categorical", 2)] * 4 + [Dimension("categorical", four_choices)] * 4)
        counts = np.array([d.levels for d in dims])
        target = rng.integers(0, counts)
        weights = np.exp(rng.uniform(np.log(0.05), 0.0, len(dims)))  # a few choices matter most
        ordinal = np.array([d.kind == "ordinal" for d in dims])
        pairs = rng.choice(len(dims), size=(12, 2), replace=False)
        pair_weights = rng.uniform(0.2, 1.0, len(pairs))

        def choices(u: np.ndarray) -> np.ndarray:
            levels = levels_of(u, dims)
            off = np.where(ordinal, np.abs(levels - target) / (counts - 1), levels != target)
            interactions = (off[:, pairs[:, 0]] * off[:, pairs[:, 1]]) @ pair_weights
            return off @ weights + interactions

        return dims, choices, 50
    raise ValueError(f"unknown problem {name!r}; use one of {PROBLEMS}")


def run_turbo(cls, dims, objective, budget, batch, seed, overrides):
    optimizer = cls(len(dims), seed, max_evaluations=budget, dimensions=dims, batch_size=batch, **overrides)
    seconds = []
    while len(optimizer.values) < budget:
        start = time.perf_counter()
        points = optimizer.ask(batch)
        ask = time.perf_counter() - start
        values = objective(points)
        start = time.perf_counter()
        optimizer.tell(points, values)
        seconds.append(ask + time.perf_counter() - start)
    return float(np.nanmin(optimizer.values)), float(np.mean(seconds))


def run_random(dims, objective, budget, batch, seed):
    optimizer = RandomSearch(len(dims), seed, max_evaluations=budget, dimensions=dims)
    while len(optimizer.values) < budget:
        points = optimizer.ask(batch)
        optimizer.tell(points, objective(points))
    return float(optimizer.values.min()), 0.0


def run_tpe(dims, objective, budget, batch, seed):
    """Optuna's TPE on the same choices (categorical / ordered ints / floats), batch by batch."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed))
    best = np.inf
    for _ in range(0, budget, batch):
        trials = [study.ask() for _ in range(batch)]
        points = np.array([[_suggest(trial, j, d) for j, d in enumerate(dims)] for trial in trials])
        values = objective(points)
        for trial, value in zip(trials, values):
            study.tell(trial, float(value))
        best = min(best, float(values.min()))
    return best, 0.0


def _suggest(trial, j: int, dimension: Dimension) -> float:
    """A unit-cube coordinate from an Optuna suggestion (bin centres for discrete choices)."""
    if dimension.kind == "continuous":
        return trial.suggest_float(f"x{j}", 0.0, 1.0)
    if dimension.kind == "ordinal":
        level = trial.suggest_int(f"x{j}", 0, dimension.levels - 1)
    else:
        level = trial.suggest_categorical(f"x{j}", list(range(dimension.levels)))
    return float(dimension.centre(np.array(level)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("problem", choices=PROBLEMS)
    parser.add_argument("--strategies", nargs="+", default=["turbo", "random"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--budget", type=int, default=None, help="default: the problem's")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE",
                        help="TurboConfig overrides, e.g. n_candidates=2000 failure_tolerance=5")
    args = parser.parse_args()
    torch.set_num_threads(1)
    dims, objective, budget = make_problem(args.problem)
    budget = args.budget or budget
    overrides = {key: _number(value) for key, value in (item.split("=", 1) for item in args.set)}
    runners = {
        "turbo": lambda seed: run_turbo(Turbo, dims, objective, budget, args.batch, seed, overrides),
        "turbo_continuous": lambda seed: run_turbo(
            ContinuousTurbo, dims, objective, budget, args.batch, seed, overrides
        ),
        "random": lambda seed: run_random(dims, objective, budget, args.batch, seed),
        "tpe": lambda seed: run_tpe(dims, objective, budget, args.batch, seed),
    }
    print(f"problem={args.problem} budget={budget} batch={args.batch} overrides={overrides}")
    for strategy in args.strategies:
        bests = []
        for seed in args.seeds:
            best, seconds = runners[strategy](seed)
            bests.append(best)
            print(f"  {strategy} seed={seed} best={best:.4g} ask_tell_seconds={seconds:.3f}", flush=True)
        print(f"{strategy}: median_best={statistics.median(bests):.4g} over {len(bests)} seeds", flush=True)


def _number(text: str) -> float | int:
    return int(text) if text.lstrip("-").isdigit() else float(text)


if __name__ == "__main__":
    main()
