"""TuRBO-m (Eriksson et al. 2019) behind the ask/tell interface -- the TRADE search (§3.1, App. C).

Each trust region starts from a Latin-hypercube design, then fits its own GP and proposes
Thompson samples from candidates inside its region. Across regions, every batch slot goes
to the lowest posterior sample of any region: the implicit bandit that decides which local
searches continue. ``Turbo`` respects each coordinate's kind (continuous, ordinal,
categorical; ``mixed`` and ``gp``); ``ContinuousTurbo`` is the original that sees only a cube.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import numpy as np
import torch

from trade_pipeline.optim.base import (
    RANDOM_ORIGIN,
    AskTellOptimizer,
    continuous_dimensions,
    to_json_float,
)
from trade_pipeline.optim.gp import (
    fit_gp,
    fit_mixed_gp,
    ordered_lengthscales,
    thompson_samples,
)
from trade_pipeline.optim.mixed import MixedSpace, hamming_radius, mixed_candidates
from trade_pipeline.optim.trust_region import (
    TrustRegion,
    TurboConfig,
    latin_hypercube,
    needs_restart,
    record_observations,
    region_origin,
    resolve_config,
    restart_trust_region,
    start_trust_region,
)

__all__ = ["ContinuousTurbo", "Turbo", "fit_gp", "thompson_samples"]

logger = logging.getLogger(__name__)


class Turbo(AskTellOptimizer):
    """Type-aware TuRBO-m minimiser; ``n_trust_regions=1`` is plain TuRBO-1.

    Args (besides the base class's):
        batch_size: points asked at a time (the search passes ``search.batch_size``); the
            derived tolerances count batches, so they assume this size.
        config, options: :class:`TurboConfig` and/or its fields as keywords (options win);
            ``None`` fields are derived from ``max_evaluations``, ``dim`` and ``batch_size``.

    Discrete coordinates are always proposed at their bin centres, and a point's key is its
    snapped point's, so two points in the same bins are one candidate. Points told before the
    first ``ask`` become the first region's initial design. Failed evaluations (NaN) stay NaN
    in the history; for the GP they are replaced by the worst finite value observed so far, so
    a failure looks as bad as the worst success without inventing a scale, and they never
    count as a success.
    """

    strategy = "turbo"
    config_class = TurboConfig
    takes = frozenset({"batch_size"})  # its derived tolerances count batches

    def __init__(self, dim: int, seed: int = 0, *, batch_size: int = 1, **kwargs: Any) -> None:
        super().__init__(dim, seed, **kwargs)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1 (the search's batch_size), got {batch_size}.")
        self.space = self._mixed_space()
        if self.space.discrete:
            key = self.canonicalize
            self.canonicalize = lambda point: key(self.space.snap_array(point))
        self.batch_size = batch_size
        self.settings = resolve_config(self.config, dim, batch_size, self.max_evaluations)
        logger.info(
            "%s for %s evaluations, d=%d, batch %d: n_init=%d, tolerances %d/%d (success/failure), "
            "length %.3g-%.3g.", type(self).__name__, self.max_evaluations, dim, batch_size,
            self.settings.n_init, self.settings.success_tolerance, self.settings.failure_tolerance,
            self.settings.length_min, self.settings.length_max,
        )
        self._before_first_ask = True
        self._regions = [
            start_trust_region(region_id, self._new_design(), self.settings)
            for region_id in range(self.settings.n_trust_regions)
        ]

    def _mixed_space(self) -> MixedSpace:
        return MixedSpace.from_dimensions(self.dimensions)

    @property
    def n_init(self) -> int:
        """Initial-design points per trust region (derived unless configured)."""
        return self.settings.n_init

    @property
    def initial_evaluations(self) -> int:
        return self.n_init * self.settings.n_trust_regions

    def describe(self) -> list[dict]:
        return [
            {
                "region_id": region.region_id,
                "length": region.length,
                "success_counter": region.success_counter,
                "failure_counter": region.failure_counter,
                "best_value": to_json_float(region.best_value),
                "n_observations": len(region.observations),
                "restarts": region.restarts,
            }
            for region in self._regions
        ]

    def _propose(self, n: int) -> tuple[np.ndarray, list[dict]]:
        """Initial designs first, then Thompson sampling; uniform points only when no region
        can propose yet (designs asked but not told) or its candidates are all taken."""
        self._before_first_ask = False
        parts: list[tuple[np.ndarray, list[dict]]] = []
        for source in (self._ask_designs, self._ask_guided, self._draw_random):
            missing = n - sum(len(points) for points, _ in parts)
            if missing:
                parts.append(source(missing))
        points = np.vstack([points for points, _ in parts])
        return points, [origin for _, origins in parts for origin in origins]

    def _ask_designs(self, n: int) -> tuple[np.ndarray, list[dict]]:
        """Up to ``n`` initial-design points not asked yet; one whose key is taken is dropped,
        one that ``feasible`` refuses is replaced by a feasible uniform point (else a budget
        that refuses the design would leave the region without data for good)."""
        points, origins = [], []
        for k, region in enumerate(self._regions):
            design = list(region.design)
            while design and len(points) < n:
                point = np.array(design.pop(0))
                if self.feasible is not None and not self.feasible(point):
                    self.filtered += 1
                    point, _ = self._draw_random(1)
                    point = point[0] if len(point) else None
                elif not self._claim(point):
                    point = None
                if point is not None:
                    points.append(point)
                    origins.append(region_origin(region, initial=True))
            self._regions[k] = dataclasses.replace(region, design=tuple(design))
        return np.array(points, dtype=np.float64).reshape(-1, self.dim), origins

    def _ask_guided(self, n: int) -> tuple[np.ndarray, list[dict]]:
        """Up to ``n`` points chosen from what the model learned: each the lowest Thompson sample
        across all ready regions."""
        ready = [region for region in self._regions if not region.design and region.observations]
        if not ready:
            return np.empty((0, self.dim)), []
        generator = torch.Generator().manual_seed(int(self._rng.integers(2**63)))
        candidates, samples, owners = [], [], []
        for region in ready:
            region_candidates, region_samples = self._region_candidates(region, n, generator)
            candidates.append(region_candidates)
            samples.append(region_samples)
            owners += [region] * len(region_candidates)
        all_candidates = torch.cat(candidates).numpy()
        picks = self._pick_fresh(torch.cat(samples, dim=-1), all_candidates)
        return all_candidates[picks], [region_origin(owners[i], initial=False) for i in picks]

    def _region_candidates(
        self, region: TrustRegion, n: int, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Candidates around the region's best point (``N x d``), ``n`` joint posterior samples
        (``n x N``)."""
        indices = list(region.observations)
        train_X = torch.from_numpy(self._points[indices])
        train_Y = torch.from_numpy(self._gp_targets(indices)).unsqueeze(-1)
        model = fit_mixed_gp(train_X, train_Y, self.space, self.settings, seed=generator.initial_seed())
        candidates = self._around(self.space.snap(train_X[train_Y.squeeze(-1).argmin()]), region, model, generator)
        return candidates, thompson_samples(model, candidates, n, generator)

    def _around(self, centre: torch.Tensor, region: TrustRegion, model, generator: torch.Generator) -> torch.Tensor:
        """``n_candidates`` candidates in ``region`` around ``centre`` (snapped): the box shaped by
        ``model``'s lengthscales, the Hamming ball by the region's length."""
        radius = hamming_radius(region.length, self.space.n_discrete, self.settings.length_min,
                                self.settings.length_max)
        return mixed_candidates(centre, ordered_lengthscales(model), region.length, radius, self.space,
                                self.settings.n_candidates, self.settings.perturbation_probability, generator)

    def _pick_fresh(self, samples: torch.Tensor, candidates: np.ndarray) -> list[int]:
        """Per slot (row of ``samples``, ``n x N``), the candidate with the lowest sample whose
        key is still free; a taken key yields to the next-lowest of the same sample.

        Each candidate is canonicalised at most once per ask; slots stop when none is left.
        """
        checked = np.zeros(len(candidates), dtype=bool)
        picks: list[int] = []
        for slot in samples:
            for index in torch.argsort(slot).tolist():
                if checked[index]:
                    continue
                checked[index] = True
                if self._claim(candidates[index]):
                    picks.append(index)
                    break
            else:
                break
        return picks

    def _draw_random(self, n: int) -> tuple[np.ndarray, list[dict]]:
        """Up to ``n`` fresh uniform points at bin centres (each level equally likely)."""
        points = self._draw_unique(n, lambda k: self.space.snap_array(self._rng.random((k, self.dim))))
        return points, [{"region": RANDOM_ORIGIN} for _ in points]

    def _gp_targets(self, indices: list[int]) -> np.ndarray:
        """Values at ``indices`` with NaN (failed) replaced by the worst finite value seen."""
        values = self._values[indices]
        finite = self._values[np.isfinite(self._values)]
        return np.where(np.isnan(values), finite.max() if finite.size else 0.0, values)

    def _observe(self, indices: np.ndarray, origins: list[dict]) -> None:
        if self._before_first_ask:
            origins = self._adopt_as_design(origins)
        values = self._values[indices]
        for k, region in enumerate(self._regions):
            for initial in (True, False):
                mine = [
                    i
                    for i, origin in enumerate(origins)
                    if origin["region"] == region.region_id
                    and origin.get("restart") == region.restarts
                    and origin.get("initial") == initial
                ]
                if mine:
                    region = record_observations(
                        region, indices[mine], values[mine], self.settings, count=not initial
                    )
            if needs_restart(region, self.settings):
                logger.info(
                    "TuRBO trust region %d restarts from a new design "
                    "(length %.3g < length_min %.3g).",
                    region.region_id, region.length, self.settings.length_min,
                )
                region = self._restart(region)
            self._regions[k] = region

    def _restart(self, region: TrustRegion) -> TrustRegion:
        """The region after its length fell below ``length_min``: its data forgotten, a new design."""
        return restart_trust_region(region, self._new_design(), self.settings)

    def _adopt_as_design(self, origins: list[dict]) -> list[dict]:
        """Points told before any ask (a benchmark's shared initial design) count as the first
        region's design: it asks that many fewer of its own."""
        first = self._regions[0]
        adopted = [region_origin(first, initial=True) if o["region"] == RANDOM_ORIGIN else o for o in origins]
        n_adopted = sum(o["region"] == RANDOM_ORIGIN for o in origins)
        self._regions[0] = dataclasses.replace(first, design=first.design[n_adopted:])
        return adopted

    def _new_design(self) -> np.ndarray:
        """``n_init x d`` Latin hypercube, discrete coordinates snapped: one stratum per bin."""
        design = latin_hypercube(self.n_init, self.dim, seed=int(self._rng.integers(2**32)))
        return self.space.snap_array(design)

    def _strategy_state(self) -> dict:
        return {
            "settings": self.settings.model_dump(mode="json"),
            "batch_size": self.batch_size,
            "before_first_ask": self._before_first_ask,
            "regions": [region.to_dict() for region in self._regions],
        }

    def _load_strategy_state(self, state: dict) -> None:
        self.settings = type(self.config).model_validate(state["settings"])
        self.batch_size = state["batch_size"]
        self._before_first_ask = state["before_first_ask"]
        self._regions = [TrustRegion.from_dict(region) for region in state["regions"]]


class ContinuousTurbo(Turbo):
    """The original TuRBO, kept for comparison: every coordinate is continuous to it, whatever
    ``dimensions`` says (its GP, box and Sobol candidates see bins as distances on a line)."""

    strategy = "turbo_continuous"

    def _mixed_space(self) -> MixedSpace:
        return MixedSpace.from_dimensions(continuous_dimensions(self.dim))

