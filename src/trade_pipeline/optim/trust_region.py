"""TuRBO trust regions: hyperparameters, per-region state and the pure functions that update it.

Eriksson et al. (2019), "Scalable Global Optimization via Local Bayesian Optimization".
Settings left ``None`` are derived from the evaluation budget, the dimension and the batch
size, so one default serves 30 to 1,000+ evaluations; TRADE App. C's values ("Hyperparameters
in TurBO") are what conf/paper states. See docs/turbo.md.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass

import numpy as np
import torch
from pydantic import Field, model_validator
from scipy.stats import qmc
from torch.quasirandom import SobolEngine

from trade_pipeline.config import StrictModel
from trade_pipeline.optim.base import from_json_float, to_json_float

logger = logging.getLogger(__name__)


TURBO_HALVINGS = 7
"""TuRBO's ``length_min = 0.5^7``: a region restarts after 7 halvings from ``length_init`` 0.8."""
TURBO_SUCCESS_TOLERANCE = 3
"""TuRBO's; App. C's 2 is what conf/paper states."""
MIN_FAILURE_TOLERANCE = 2
"""App. C's tolerance: with 1, a single unlucky batch would halve the region."""
MIN_HALVINGS = 2
"""Fewest halvings before a derived restart; the Hamming ball still ends at one-choice steps."""
DESIGN_SHARE = 3
"""The initial design takes at most a third of a planned life (TuRBO's 2d is 40 of ~180 at
d=20, batch 4)."""


class TurboConfig(StrictModel):
    """TuRBO hyperparameters (``search.turbo``); ``None`` = derived by :func:`resolve_config`
    from the budget, the dimension and the batch size (``gp_fit_iterations``: fit until
    converged). Explicit values always win."""

    n_trust_regions: int = Field(default=1, ge=1)
    n_init: int | None = Field(default=None, ge=1)
    length_init: float = Field(default=0.8, gt=0)
    length_min: float | None = Field(default=None, gt=0)
    length_max: float = Field(default=1.6, gt=0)
    success_tolerance: int | None = Field(default=None, ge=1)
    failure_tolerance: int | None = Field(default=None, ge=1)
    planned_restarts: int = Field(default=1, ge=0)
    success_threshold: float = Field(default=1e-3, ge=0)
    n_candidates: int | None = Field(default=None, ge=1)
    gp_fit_iterations: int | None = Field(default=40, ge=1)
    perturbation_probability: float | None = Field(default=None, gt=0, le=1)
    lengthscale_bounds: tuple[float, float] = (0.005, 4.0)
    outputscale_bounds: tuple[float, float] = (0.05, 20.0)
    noise_bounds: tuple[float, float] = (1e-8, 1e-3)

    @model_validator(mode="after")
    def _consistent(self) -> TurboConfig:
        length_min = self.length_init if self.length_min is None else self.length_min
        if not length_min <= self.length_init <= self.length_max:
            raise ValueError("need length_min <= length_init <= length_max, got "
                             f"{self.length_min}, {self.length_init}, {self.length_max}")
        for name in ("lengthscale_bounds", "outputscale_bounds", "noise_bounds"):
            low, high = getattr(self, name)
            if not 0 < low < high:
                raise ValueError(f"{name} must be [low, high] with 0 < low < high, got [{low}, {high}]")
        return self


def resolve_config(
    config: TurboConfig, dim: int, batch_size: int, max_evaluations: int | None
) -> TurboConfig:
    """``config`` with every ``None`` field derived (docs/turbo.md, "Budget-aware defaults").

    Without a budget these are TuRBO's values. With one, each region's share of it is planned
    as ``planned_restarts + 1`` lives (design, then shrinking to the restart if every batch
    fails); design size, failure tolerance and halvings shrink from TuRBO's until a life fits.
    """
    life = _region_life(config, max_evaluations)
    n_init = initial_design_size(config, dim, max_evaluations, batch_size)
    shrink_batches = max(0.0, life - n_init) / batch_size
    turbo_failure = math.ceil(max(4, dim) / batch_size)
    failure = config.failure_tolerance or max(
        MIN_FAILURE_TOLERANCE, math.floor(min(turbo_failure, shrink_batches / TURBO_HALVINGS))
    )
    halvings = max(MIN_HALVINGS, math.floor(min(TURBO_HALVINGS, shrink_batches / failure)))
    return config.model_copy(
        update={
            "n_init": n_init,
            # any value in (init / 2^h, init / 2^(h-1)] restarts after h halvings
            "length_min": config.length_min or config.length_init * 2.0 ** (0.5 - halvings),
            "success_tolerance": config.success_tolerance or TURBO_SUCCESS_TOLERANCE,
            "failure_tolerance": failure,
            "n_candidates": n_candidates(config, dim),
            "perturbation_probability": perturbation_probability(config, dim),
        }
    )


def _region_life(config: TurboConfig, max_evaluations: int | None) -> float:
    """Evaluations one planned life of one region may use (infinite without a budget)."""
    if max_evaluations is None:
        return math.inf
    return max_evaluations / (config.n_trust_regions * (config.planned_restarts + 1))


def n_candidates(config: TurboConfig, dim: int) -> int:
    """Thompson-sampling candidates per region: TuRBO's ``min(5000, max(2000, 200 d))``."""
    return config.n_candidates or min(5000, max(2000, 200 * dim))


def perturbation_probability(config: TurboConfig, dim: int) -> float:
    """Chance that a candidate moves a coordinate away from the centre: ``min(20/d, 1)``."""
    return config.perturbation_probability or min(20.0 / dim, 1.0)


def initial_design_size(
    config: TurboConfig, dim: int, max_evaluations: int | None, batch_size: int = 1
) -> int:
    """Latin-hypercube points per region: ``n_init``, by default TuRBO's ``2 d`` rounded up to
    whole batches but at most a third of a planned life (at least one batch and two points,
    the fewest a GP can standardise); any value is capped so that the initial designs of all
    regions use at most half of ``max_evaluations``."""
    life_batches = _region_life(config, max_evaluations) / batch_size
    batches = max(1, math.floor(min(math.ceil(2 * dim / batch_size), life_batches / DESIGN_SHARE)))
    wanted = config.n_init or max(2, batch_size * batches)
    if max_evaluations is None:
        return wanted
    cap = max(1, max_evaluations // (2 * config.n_trust_regions))
    if wanted > cap:
        logger.info(
            "TuRBO n_init capped from %d to %d per trust region so that %d region(s) leave half of "
            "the %d-evaluation budget to the model-guided search.",
            wanted, cap, config.n_trust_regions, max_evaluations,
        )
    return min(wanted, cap)


def latin_hypercube(n: int, dim: int, seed: int) -> np.ndarray:
    """``n x d`` Latin-hypercube design on the unit cube (TRADE App. C, step 1)."""
    return qmc.LatinHypercube(dim, seed=seed).random(n)


@dataclass(frozen=True)
class TrustRegion:
    """One trust region: side length, counters, and its own data since its last restart.

    ``design`` holds the initial-design points not yet asked; ``observations`` indexes the
    optimizer's history (the region's GP trains on these only).
    """

    region_id: int
    length: float
    best_value: float = math.inf
    success_counter: int = 0
    failure_counter: int = 0
    restarts: int = 0
    design: tuple[tuple[float, ...], ...] = ()
    observations: tuple[int, ...] = ()

    def to_dict(self) -> dict:
        state = dataclasses.asdict(self)
        state["best_value"] = to_json_float(self.best_value)
        state["design"] = [list(point) for point in self.design]
        state["observations"] = list(self.observations)
        return state

    @classmethod
    def from_dict(cls, state: dict) -> TrustRegion:
        return cls(
            **{
                **state,
                "best_value": from_json_float(state["best_value"], missing=math.inf),
                "design": tuple(tuple(point) for point in state["design"]),
                "observations": tuple(state["observations"]),
            }
        )


def region_origin(region: TrustRegion, initial: bool) -> dict:
    """Where an asked point came from (the region, its restart, whether from its design), so its
    result is credited to the right region."""
    return {"region": region.region_id, "restart": region.restarts, "initial": initial}


def start_trust_region(
    region_id: int, design: np.ndarray, config: TurboConfig, restarts: int = 0
) -> TrustRegion:
    """A fresh region that will first ask its ``n_init x d`` design."""
    return TrustRegion(
        region_id=region_id,
        length=config.length_init,
        restarts=restarts,
        design=tuple(tuple(point) for point in design.tolist()),
    )


def restart_trust_region(
    region: TrustRegion, design: np.ndarray, config: TurboConfig
) -> TrustRegion:
    """Forget the region's data (it stays in the global history) and start from a new design."""
    return start_trust_region(region.region_id, design, config, restarts=region.restarts + 1)


def needs_restart(region: TrustRegion, config: TurboConfig) -> bool:
    return region.length < config.length_min


def record_observations(
    region: TrustRegion,
    indices: np.ndarray,
    values: np.ndarray,
    config: TurboConfig,
    count: bool,
) -> TrustRegion:
    """Add one batch (``indices``, ``values``: ``n``) to the region.

    With ``count`` (model-guided points) the batch is one success if it beats the region's
    best by more than ``success_threshold * |best|``, else one failure (NaN values never
    succeed); ``success_tolerance`` successes double the length (up to ``length_max``),
    ``failure_tolerance`` failures halve it. Initial-design batches only set the best.
    """
    finite = values[np.isfinite(values)]
    batch_best = float(finite.min()) if finite.size else math.inf
    if math.isfinite(region.best_value):
        margin = config.success_threshold * abs(region.best_value)
        improved = batch_best < region.best_value - margin
    else:
        improved = math.isfinite(batch_best)
    region = dataclasses.replace(
        region,
        best_value=min(region.best_value, batch_best),
        observations=region.observations + tuple(int(i) for i in indices),
    )
    if not count:
        return region
    successes = region.success_counter + 1 if improved else 0
    failures = 0 if improved else region.failure_counter + 1
    length = region.length
    if successes == config.success_tolerance:
        length, successes = min(2.0 * length, config.length_max), 0
    elif failures == config.failure_tolerance:
        length, failures = length / 2.0, 0
    return dataclasses.replace(
        region, length=length, success_counter=successes, failure_counter=failures
    )


def trust_region_bounds(
    center: torch.Tensor, lengthscales: torch.Tensor, length: float
) -> torch.Tensor:
    """``2 x d`` box around ``center`` (``d``), sides ``length * l_i / geomean(l)``, in [0, 1].

    Weighting by the GP lengthscales stretches the box along directions the objective
    varies slowly in, while keeping its volume that of a cube of side ``length``.
    """
    weights = lengthscales / lengthscales.log().mean().exp()
    half_width = weights * length / 2.0
    return torch.stack([center - half_width, center + half_width]).clamp(0.0, 1.0)


def sobol_perturbations(
    n: int, dim: int, probability: float, generator: torch.Generator, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n x d`` scrambled-Sobol values in [0, 1) and the ``n x d`` mask of coordinates to move
    (each with ``probability``, at least one per row) -- TuRBO's perturbation mask, which in
    high dimensions keeps candidates near the best point."""
    sobol_seed = int(torch.randint(2**31 - 1, (1,), generator=generator))
    sobol = SobolEngine(dim, scramble=True, seed=sobol_seed).draw(n).to(dtype)
    mask = torch.rand(n, dim, generator=generator, dtype=dtype) <= probability
    unmoved = torch.nonzero(~mask.any(dim=-1)).squeeze(-1)
    mask[unmoved, torch.randint(dim, (len(unmoved),), generator=generator)] = True
    return sobol, mask
