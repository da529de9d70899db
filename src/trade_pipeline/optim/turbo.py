"""TuRBO-m (Eriksson et al. 2019) behind the ask/tell interface -- the TRADE search (§3.1, App. C).

Each trust region starts from a Latin-hypercube design, then fits its own GP and proposes
Thompson samples from Sobol candidates inside its box. Across regions, every batch slot goes
to the lowest posterior sample of any region: the implicit bandit that decides which local
searches continue.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence

import gpytorch
import numpy as np
import torch
from botorch.exceptions.errors import ModelFittingError
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from botorch.models.transforms.outcome import Standardize
from gpytorch.constraints import Interval
from gpytorch.kernels import MaternKernel, ScaleKernel
from gpytorch.likelihoods import GaussianLikelihood
from gpytorch.mlls import ExactMarginalLogLikelihood

from trade_pipeline.optim.base import AskTellOptimizer, Canonicalize, Dimension, to_json_float
from trade_pipeline.optim.trust_region import (
    TrustRegion,
    TurboConfig,
    initial_design_size,
    latin_hypercube,
    n_candidates,
    needs_restart,
    perturbation_probability,
    perturbed_candidates,
    record_observations,
    restart_trust_region,
    start_trust_region,
    trust_region_bounds,
)

logger = logging.getLogger(__name__)


def fit_gp(train_X: torch.Tensor, train_Y: torch.Tensor, config: TurboConfig) -> SingleTaskGP:
    """ARD Matérn-5/2 GP on standardised outcomes (``train_X``: ``n x d``, ``train_Y``: ``n x 1``).

    If maximising the marginal likelihood fails, the initial hyperparameters are kept: a
    rough model still ranks candidates, whereas an exception would stop the search.
    """
    kernel = ScaleKernel(
        MaternKernel(
            nu=2.5,
            ard_num_dims=train_X.shape[-1],
            lengthscale_constraint=Interval(*config.lengthscale_bounds),
        ),
        outputscale_constraint=Interval(*config.outputscale_bounds),
    )
    model = SingleTaskGP(
        train_X,
        train_Y,
        covar_module=kernel,
        likelihood=GaussianLikelihood(noise_constraint=Interval(*config.noise_bounds)),
        outcome_transform=Standardize(m=1),
    )
    try:
        fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
    except ModelFittingError as error:
        logger.warning("TuRBO GP fit failed (%s); keeping the initial hyperparameters.", error)
    return model.eval()


def thompson_samples(
    model: SingleTaskGP, candidates: torch.Tensor, n_samples: int, generator: torch.Generator
) -> torch.Tensor:
    """``n_samples x N`` draws from the joint posterior over ``candidates`` (``N x d``), in the
    objective's own units so that regions with different GPs can be compared."""
    with torch.no_grad(), gpytorch.settings.max_cholesky_size(float("inf")):
        posterior = model.posterior(candidates)
        sample_shape = torch.Size([n_samples])
        base_samples = torch.randn(
            sample_shape + posterior.base_sample_shape, generator=generator, dtype=candidates.dtype
        )
        return posterior.rsample_from_base_samples(sample_shape, base_samples).squeeze(-1)


class Turbo(AskTellOptimizer):
    """TuRBO-m minimiser; ``n_trust_regions=1`` is plain TuRBO-1.

    Hyperparameters come from ``config`` and/or keyword ``options`` (the fields of
    :class:`TurboConfig`; options win). Failed evaluations (NaN) stay NaN in the history;
    for the GP they are replaced by the worst finite value observed so far, so a failure looks
    as bad as the worst success without inventing a scale, and they never count as a success.
    """

    strategy = "turbo"
    config_class = TurboConfig

    def __init__(
        self,
        dim: int,
        seed: int = 0,
        *,
        canonicalize: Canonicalize | None = None,
        max_evaluations: int | None = None,
        dedup_tries: int = 100,
        dimensions: Sequence[Dimension] | None = None,
        config: TurboConfig | None = None,
        **options,
    ) -> None:
        super().__init__(
            dim,
            seed,
            canonicalize=canonicalize,
            max_evaluations=max_evaluations,
            dedup_tries=dedup_tries,
            dimensions=dimensions,
        )
        self.config = TurboConfig.with_options(config, options)
        self.n_init = initial_design_size(self.config, dim, max_evaluations)
        self._regions = [
            start_trust_region(region_id, self._new_design(), self.config)
            for region_id in range(self.config.n_trust_regions)
        ]

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
        parts: list[tuple[np.ndarray, list[dict]]] = []
        for source in (self._ask_designs, self._ask_thompson, self._draw_random):
            missing = n - sum(len(points) for points, _ in parts)
            if missing:
                parts.append(source(missing))
        points = np.vstack([points for points, _ in parts])
        return points, [origin for _, origins in parts for origin in origins]

    def _ask_designs(self, n: int) -> tuple[np.ndarray, list[dict]]:
        """Up to ``n`` initial-design points not asked yet; one whose key is taken is dropped."""
        points, origins = [], []
        for k, region in enumerate(self._regions):
            design = list(region.design)
            while design and len(points) < n:
                point = np.array(design.pop(0))
                if self._claim(point):
                    points.append(point)
                    origins.append(_origin(region, initial=True))
            self._regions[k] = dataclasses.replace(region, design=tuple(design))
        return np.array(points, dtype=np.float64).reshape(-1, self.dim), origins

    def _ask_thompson(self, n: int) -> tuple[np.ndarray, list[dict]]:
        """Up to ``n`` points, each the lowest Thompson sample across all ready regions."""
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
        return all_candidates[picks], [_origin(owners[i], initial=False) for i in picks]

    def _region_candidates(
        self, region: TrustRegion, n: int, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Candidates in the region's box (``N x d``), ``n`` joint posterior samples (``n x N``)."""
        indices = list(region.observations)
        train_X = torch.from_numpy(self._points[indices])
        train_Y = torch.from_numpy(self._gp_targets(indices)).unsqueeze(-1)
        model = fit_gp(train_X, train_Y, self.config)
        center = train_X[train_Y.squeeze(-1).argmin()]
        lengthscales = model.covar_module.base_kernel.lengthscale.detach().reshape(-1)
        bounds = trust_region_bounds(center, lengthscales, region.length)
        candidates = perturbed_candidates(
            center,
            bounds,
            n_candidates(self.config, self.dim),
            perturbation_probability(self.config, self.dim),
            generator,
        )
        return candidates, thompson_samples(model, candidates, n, generator)

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

    def _gp_targets(self, indices: list[int]) -> np.ndarray:
        """Values at ``indices`` with NaN (failed) replaced by the worst finite value seen."""
        values = self._values[indices]
        finite = self._values[np.isfinite(self._values)]
        return np.where(np.isnan(values), finite.max() if finite.size else 0.0, values)

    def _observe(self, indices: np.ndarray, origins: list[dict]) -> None:
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
                        region, indices[mine], values[mine], self.config, count=not initial
                    )
            if needs_restart(region, self.config):
                logger.info(
                    "TuRBO trust region %d restarts from a new design "
                    "(length %.3g < length_min %.3g).",
                    region.region_id, region.length, self.config.length_min,
                )
                region = restart_trust_region(region, self._new_design(), self.config)
            self._regions[k] = region

    def _new_design(self) -> np.ndarray:
        return latin_hypercube(self.n_init, self.dim, seed=int(self._rng.integers(2**32)))

    def _strategy_state(self) -> dict:
        return {
            "config": self.config.model_dump(mode="json"),
            "n_init": self.n_init,
            "regions": [region.to_dict() for region in self._regions],
        }

    def _load_strategy_state(self, state: dict) -> None:
        saved = TurboConfig.model_validate(state["config"])
        if saved != self.config:
            logger.warning(
                "Resuming TuRBO with the saved hyperparameters %s, not %s.", saved, self.config
            )
        self.config = saved
        self.n_init = state["n_init"]
        self._regions = [TrustRegion.from_dict(region) for region in state["regions"]]


def _origin(region: TrustRegion, initial: bool) -> dict:
    """Where an asked point came from, so its result is credited to the right region."""
    return {"region": region.region_id, "restart": region.restarts, "initial": initial}
