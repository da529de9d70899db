"""Regularised (aging) evolution, Real et al. 2019, "Regularized Evolution for Image Classifier
Architecture Search" (Alg. 1), behind the ask/tell interface.

A tournament picks a parent, one mutation makes the child, and the *oldest* member leaves the
population rather than the worst: a good candidate stays only while its descendants keep
winning, which regularises against one lucky (noisy) evaluation. Searching a trade-off's front,
the tournament is won by non-dominated sorting instead of the value (NSGA-II's crowded
comparison: the lowest rank in the living population, then the largest crowding distance).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from pydantic import Field, model_validator

from trade_pipeline.config import StrictModel
from trade_pipeline.optim.base import RANDOM_ORIGIN, AskTellOptimizer, Dimension
from trade_pipeline.optim.choices import fresh_points, snap_to_levels, uniform_choices
from trade_pipeline.optim.hypervolume import TradeOff, crowding_distances, pareto_ranks

MUTATION_ORIGIN = 0
"""``last_region_ids`` entry of a child (a mutated population member)."""


class EvolutionConfig(StrictModel):
    """Regularised-evolution settings (``search.evolution``).

    Real et al. use P=100, S=25 for 20k evaluations; a KD search affords a few hundred, so the
    population is smaller with the same S/P = 1/4 selection pressure. ``mutation_sigma`` is
    the Gaussian step of a continuous coordinate, in units of its range.
    """

    population_size: int = Field(default=20, ge=2)
    tournament_size: int = Field(default=5, ge=1)
    mutation_sigma: float = Field(default=0.1, gt=0, le=1)

    @model_validator(mode="after")
    def _tournament_fits_the_population(self) -> EvolutionConfig:
        if self.tournament_size > self.population_size:
            raise ValueError(
                f"tournament_size ({self.tournament_size}) must be <= population_size "
                f"({self.population_size}): a tournament samples members without replacement; "
                "lower tournament_size or raise population_size"
            )
        return self


def reflect(value: float) -> float:
    """``value`` folded back into [0, 1] at both walls, so a step never piles up on a bound."""
    folded = abs(value) % 2.0
    return 2.0 - folded if folded > 1.0 else folded


def mutate(
    parent: np.ndarray, dimensions: Sequence[Dimension], sigma: float, rng: np.random.Generator
) -> np.ndarray:
    """The ``parent`` (``d``) with exactly one coordinate changed (Real et al. 2019, §2: one
    mutation per child): a discrete one to another level, uniformly; a continuous one by a
    Gaussian step of ``sigma``, reflected into [0, 1]."""
    child = snap_to_levels(parent, dimensions)[0]
    j = int(rng.integers(len(dimensions)))
    dimension = dimensions[j]
    if dimension.discrete:
        current = int(dimension.level(child[j : j + 1])[0])
        other = int(rng.integers(dimension.levels - 1))
        child[j] = dimension.centre(other + (other >= current))
    else:
        child[j] = reflect(child[j] + sigma * rng.standard_normal())
    return child


class RegularizedEvolution(AskTellOptimizer):
    """Aging evolution: uniform points until the population is full, then one mutated
    tournament winner per slot.

    Every told point joins the population in tell order -- including points that were never
    asked, such as a shared initial design -- and the oldest member leaves once there are more
    than ``population_size``. Failed evaluations (NaN) rank below every success in a tournament.
    Given a ``trade_off``, tournaments compare members on its front (module docstring).
    """

    strategy = "evolution"
    config_class = EvolutionConfig
    takes = frozenset({"trade_off"})
    multi_objective = True

    def __init__(self, dim: int, seed: int = 0, *, trade_off: TradeOff | None = None, **kwargs: Any) -> None:
        super().__init__(dim, seed, **kwargs)
        self.trade_off = trade_off
        self._population: list[int] = []

    @property
    def population(self) -> list[int]:
        """History rows of the living members, oldest first."""
        return list(self._population)

    @property
    def initial_evaluations(self) -> int:
        """The random population comes before any mutation."""
        return self.config.population_size

    def tournament_winner(self) -> int:
        """History row of the best of ``tournament_size`` members sampled without replacement."""
        size = min(self.config.tournament_size, len(self._population))
        contestants = self._rng.choice(self._population, size=size, replace=False)
        if self.trade_off is not None:
            return self._crowded_winner(contestants)
        values = np.nan_to_num(self._values[contestants], nan=np.inf)
        return int(contestants[np.argmin(values)])

    def _crowded_winner(self, contestants: np.ndarray) -> int:
        """The contestant of lowest non-dominated rank in the population, the least crowded one on
        a tie (NSGA-II's crowded-comparison operator)."""
        population = np.array(self._population)
        outcomes, costs = self._outcomes[population], self.trade_off.cost(self._points[population])
        ranks = pareto_ranks(outcomes, costs)
        crowding = np.zeros(len(population))
        for rank in np.unique(ranks):
            members = ranks == rank
            crowding[members] = crowding_distances(outcomes[members], costs[members])
        where = {int(row): i for i, row in enumerate(population)}
        return int(min(contestants, key=lambda row: (ranks[where[int(row)]], -crowding[where[int(row)]])))

    def _propose(self, n: int) -> tuple[np.ndarray, list[dict]]:
        """Children while the population is full; uniform points before that, and for slots
        whose children were all taken (the population's neighbourhood is used up)."""
        children = np.empty((0, self.dim))
        if len(self._population) >= self.config.population_size:
            children = fresh_points(n, self.dim, self._child, self._claim, self.dedup_tries)
        uniform = self._draw_unique(
            n - len(children), lambda k: uniform_choices(self._rng, k, self.dimensions)
        )
        regions = [MUTATION_ORIGIN] * len(children) + [RANDOM_ORIGIN] * len(uniform)
        return np.vstack([children, uniform]), [{"region": region} for region in regions]

    def _child(self) -> np.ndarray:
        parent = self._points[self.tournament_winner()]
        return mutate(parent, self.dimensions, self.config.mutation_sigma, self._rng)

    def _observe(self, indices: np.ndarray, origins: list[dict]) -> None:
        # Aging (Real et al. 2019, Alg. 1): the oldest dies, whatever its value.
        self._population += [int(i) for i in indices]
        del self._population[: max(0, len(self._population) - self.config.population_size)]

    def _strategy_state(self) -> dict:
        return {"population": list(self._population)}

    def _load_strategy_state(self, state: dict) -> None:
        self._population = [int(i) for i in state["population"]]
