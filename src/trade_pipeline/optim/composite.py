"""Composite TuRBO: model the one expensive black box, compute the objective from it exactly.

When the value to minimise is a known function of one black-box outcome and of outcomes known
before evaluation -- TRADE's log Eq. 2 of the proxy accuracy and of the candidate's cost ratios
-- modelling the value itself wastes what is known: below the accuracy target Eq. 2 is a
plateau (x 1/epsilon), so a GP of log(Score) learns nothing from students that miss it, and it
has to learn costs that the search can compute. This strategy instead

* fits one GP to the black-box outcome over every evaluation (``gp.fit_outcome_gp``: the
  outcome on the logit scale of its range, so it is informative on both sides of the target;
  BoTorch's dimension-scaled priors; noise learned, since proxy accuracy varies by seed);
* screens candidates from TuRBO's trust regions (CASMOPOLITAN box + Hamming ball around each
  region's best point), from the whole space and from a local search around the best of them by
  Monte-Carlo expected improvement of the objective, computed from posterior samples of the
  outcome and the known outcomes (composite BO, Astudillo & Frazier 2019), feasibility first:
  a candidate the model expects to miss the objective's threshold (Eq. 2's target) comes after
  every candidate it expects to reach it that may improve, those in the leading trust region
  first once a student reached the threshold (SCBO's locality), and one that cannot improve comes
  last (:func:`feasibility_first`);
* draws joint posterior samples over the best of those and fills the batch greedily (q-EI);
* or, given a :class:`~trade_pipeline.optim.hypervolume.TradeOff` instead (no target: the front of
  outcome against one known cost), ranks and fills the batch by the expected hypervolume each
  candidate adds to the front (q-EHVI, Daulton et al. 2020, by sequential greedy picks), exact over
  the known cost and sampled over the outcome, and starts local search from the front's points (its
  regions stay centred on the best value told, log(cost / outcome); centring them instead on the
  front's point of largest exclusive hypervolume, as MOrBO does, did worse on the proxy benchmark,
  as did a hypervolume on log cost: docs/figures/pareto_acquisition_trials.json);
* keeps TuRBO's regions, designs and success/failure counting; a region's centre is its best
  value (below Eq. 2's target: the miss cheapest for its accuracy; SCBO's centre, the most
  accurate miss, changed nothing on NAS-Bench-201's needle regime); a region that shrinks away
  restarts around the best evaluation, not from a new design.

Without a :class:`CompositeObjective` or a trade-off it is exactly :class:`~trade_pipeline.optim.turbo.Turbo`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from pydantic import Field

from trade_pipeline.optim.gp import fit_outcome_gp, hyperparameters, ordered_lengthscales, outcome_gp
from trade_pipeline.optim.hypervolume import TradeOff, hypervolume_improvement, nondominated
from trade_pipeline.optim.logit import from_logit, logit_variance, to_logit
from trade_pipeline.optim.mixed import hamming_radius, region_contains
from trade_pipeline.optim.trust_region import TrustRegion, TurboConfig, region_origin, restart_trust_region
from trade_pipeline.optim.turbo import Turbo

LOCAL_STEP = 0.05
"""How far local search moves a continuous coordinate (of the unit cube)."""
NO_GAIN = 1e-6
"""An expected improvement at most this is none: no posterior sample improves on the best value
(what is left is the tie-break by mean value, ~1e-9)."""


@dataclass(frozen=True)
class CompositeObjective:
    """The objective as a known function of one black-box outcome and of known outcomes.

    ``known``: ``n x d`` points -> ``n x k`` outcomes known before evaluation (NaN: not yet).
    ``value``: black-box outcome ``s x n`` and known outcomes ``n x k`` (tensors) -> the
    ``s x n`` objective values to minimise, the same function the told values came from.
    ``bounds``: the black-box outcome's range (e.g. 0-100 % accuracy), modelled on its logit.
    """

    known: Callable[[np.ndarray], np.ndarray]
    value: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    bounds: tuple[float, float]
    threshold: float | None = None
    """The outcome at and above which the objective leaves its plateau (Eq. 2's accuracy target):
    below it the objective is worse by a constant factor, whatever else is known. None: no plateau."""


class CompositeConfig(TurboConfig):
    """``search.composite``: TuRBO's settings plus the outcome model's and the acquisition's."""

    n_global: int = Field(default=500, ge=0)
    """Uniform candidates from the whole space per ask, beside each region's ``n_candidates``."""
    n_samples: int = Field(default=128, ge=1)
    """Posterior samples of the outcome behind each expected-improvement estimate."""
    local_steps: int = Field(default=3, ge=0)
    """Rounds of local search: one-choice neighbours of the best candidates join the pool."""
    local_starts: int = Field(default=8, ge=1)
    """Candidates whose neighbours each local-search round adds."""
    refit_every: int = Field(default=16, ge=1)
    """New evaluations before the outcome model's hyperparameters are fitted again; in between it
    is conditioned on every evaluation with the last fit's (a fit is most of an ask's cost)."""
    shortlist: int = Field(default=64, ge=1)
    """Candidates ranked highest (:func:`feasibility_first`) over which the batch is chosen from
    joint samples (the joint posterior of all candidates would cost O(N^3))."""
    min_p_feasible: float = Field(default=0.5, ge=0.0, le=1.0)
    """A candidate whose modelled probability of reaching the objective's threshold is below this
    is picked only when no candidate at or above it may improve, then by that probability
    (docs/turbo.md); 0 gives expected improvement alone."""


class CompositeTurbo(Turbo):
    """Type-aware TuRBO whose batches come from a model of the black-box outcome (module docstring).

    Args (besides :class:`Turbo`'s): ``objective``: the :class:`CompositeObjective`; or
    ``trade_off``: a :class:`~trade_pipeline.optim.hypervolume.TradeOff`, whose front's hypervolume
    the batches then grow (expected hypervolume improvement, q-EHVI by sequential greedy picks)
    instead of improving one value; neither gives plain :class:`Turbo`. Like ``canonicalize`` they
    are code, passed again on resume.
    """

    strategy = "composite"
    config_class = CompositeConfig
    takes = frozenset({"batch_size", "objective", "trade_off"})
    multi_objective = True

    def __init__(self, dim: int, seed: int = 0, *, objective: CompositeObjective | None = None,
                 trade_off: TradeOff | None = None, **kwargs: Any) -> None:
        if objective is not None and trade_off is not None:
            raise ValueError("the composite strategy improves one objective or grows a trade-off's front: "
                             "give objective or trade_off, not both")
        super().__init__(dim, seed, **kwargs)
        self.objective = objective
        self.trade_off = trade_off
        self._hyperparameters: dict[str, list] | None = None  # of the last outcome fit
        self._fitted_on = 0  # evaluations that fit saw

    @property
    def _modelled(self) -> CompositeObjective | TradeOff | None:
        """What the outcome model serves: the objective computed from it, or the trade-off's front."""
        return self.objective if self.objective is not None else self.trade_off

    def _ask_guided(self, n: int) -> tuple[np.ndarray, list[dict]]:
        """Up to ``n`` model-guided points: TuRBO's Thompson step, replaced (once the outcome
        model has data) by q-EI of the composite objective, or q-EHVI of the trade-off, over
        region, uniform and local-search candidates (module docstring)."""
        if self._modelled is None:
            return super()._ask_guided(n)
        ready = [region for region in self._regions if not region.design and region.observations]
        modelled = np.flatnonzero(np.isfinite(self._outcomes))
        if not ready or len(modelled) < 2 or not np.isfinite(self._values).any():
            return super()._ask_guided(n)
        if self.trade_off is not None and not len(self._front()):  # no cost known yet (e.g. no latency model)
            return super()._ask_guided(n)
        generator = torch.Generator().manual_seed(int(self._rng.integers(2**63)))
        model = self._fit_outcome_model(modelled, seed=generator.initial_seed())
        taken = self._taken_rows()
        candidates, owners = self._candidates(ready, model, generator, taken)
        if not len(candidates):  # everything drawn was evaluated already (a tiny space)
            return super()._ask_guided(n)
        normal = torch.randn(self.config.n_samples, 1, generator=generator, dtype=torch.float64)
        leader = min(ready, key=lambda region: region.best_value)
        near = self._near_best(leader, model)
        candidates, gain, p_feasible = self._local_search(model, candidates, normal, taken)
        owners += [leader] * (len(candidates) - len(owners))
        local = near(candidates)
        shortlist = self._shortlist(candidates, self._rank(gain, p_feasible, local), max(self.config.shortlist, 4 * n))
        candidates, owners = candidates[shortlist], [owners[i] for i in shortlist]
        p_feasible, local = p_feasible[shortlist], local[shortlist]
        bounds = self._modelled.bounds
        with torch.no_grad():
            posterior = model.posterior(candidates)
            base = torch.randn(torch.Size([self.config.n_samples]) + posterior.base_sample_shape,
                               generator=generator, dtype=candidates.dtype)
            samples = posterior.rsample_from_base_samples(torch.Size([self.config.n_samples]), base).squeeze(-1)
            mean = from_logit(posterior.mean.squeeze(-1), bounds)
        samples, candidates = from_logit(samples, bounds), candidates.numpy()
        if self.trade_off is not None:
            picks = self._greedy_hypervolume(samples, candidates, n)
        else:
            values = self.objective.value(samples, torch.from_numpy(self.objective.known(candidates)))
            picks = self._greedy_expected_improvement(values, p_feasible, local, candidates, n)
        origins = [{**region_origin(owners[i], initial=False), "predicted": float(mean[i]),
                    "p_feasible": None if self.trade_off is not None else float(p_feasible[i])} for i in picks]
        return candidates[picks].reshape(-1, self.dim), origins

    def _screen(self, model, candidates: torch.Tensor, normal: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``N`` Monte-Carlo expected improvements over the best value told (or, for a trade-off,
        of the front's hypervolume), each candidate on its own (``normal``: ``s x 1`` standard draws
        shared by all, so gains compare fairly; NaN where the objective is unknown), and ``N``
        probabilities of reaching the threshold (1 for a trade-off: it has none)."""
        with torch.no_grad():  # N batches of one point: marginals only, never the N x N covariance
            posterior = model.posterior(candidates.unsqueeze(-2))
            mean = posterior.mean.reshape(-1)
            std = posterior.variance.clamp_min(0).sqrt().reshape(-1)
        samples = from_logit(mean + std * normal, self._modelled.bounds)
        if self.trade_off is not None:
            return self._hypervolume_gain(samples, candidates.numpy()), torch.ones_like(mean)
        values = self.objective.value(samples, torch.from_numpy(self.objective.known(candidates.numpy())))
        gain = (float(np.nanmin(self._values)) - values).clamp(min=0).mean(dim=0)
        # ties (no sample improves) go to the lowest mean value
        gain = gain - 1e-9 * torch.nan_to_num(values.mean(dim=0), nan=0.0).clamp(-1e6, 1e6)
        return gain, self._p_feasible(mean, std)

    def _p_feasible(self, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
        """Posterior probability that the outcome reaches ``objective.threshold`` (``mean``, ``std``:
        the logit outcome's marginals); 1 where the objective has no threshold."""
        if self.objective.threshold is None:
            return torch.ones_like(mean)
        edge = to_logit(torch.tensor(float(self.objective.threshold), dtype=mean.dtype), self.objective.bounds)
        return torch.special.ndtr((mean - edge) / std.clamp_min(1e-9))

    def _rank(self, gain: torch.Tensor, p_feasible: torch.Tensor, local: torch.Tensor | None = None) -> torch.Tensor:
        """:func:`feasibility_first` with this strategy's ``min_p_feasible``."""
        return feasibility_first(gain, p_feasible, self.config.min_p_feasible, local)

    def _near_best(self, region: TrustRegion, model) -> Callable[[torch.Tensor], torch.Tensor]:
        """``N x d`` candidates -> ``N`` flags: which lie in ``region`` (the leading one: its box
        and Hamming ball around its best point, :func:`~trade_pipeline.optim.mixed.region_contains`)
        once an evaluation reached the objective's threshold; until then all of them, since the
        search for a first feasible point is global (SCBO keeps it in the region too, which here
        left more runs without any)."""
        threshold = None if self.objective is None else self.objective.threshold
        if threshold is None or not (np.nan_to_num(self._outcomes, nan=-math.inf) >= threshold).any():
            return lambda candidates: torch.ones(len(candidates), dtype=torch.bool)
        radius = hamming_radius(region.length, self.space.n_discrete, self.settings.length_min, self.settings.length_max)
        centre, lengthscales = self._centre(region), ordered_lengthscales(model)
        return lambda candidates: region_contains(candidates, centre, lengthscales, region.length, radius, self.space)

    def _centre(self, region: TrustRegion) -> torch.Tensor:
        """The snapped point of ``region``'s best value: where its candidates are drawn around."""
        indices = list(region.observations)
        values = np.where(np.isfinite(self._values[indices]), self._values[indices], np.inf)
        return self.space.snap(torch.from_numpy(self._points[indices[int(np.argmin(values))]]))

    def _local_search(self, model, candidates: torch.Tensor, normal: torch.Tensor, taken: set[bytes]
                      ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The candidates plus, for ``local_steps`` rounds, every one-choice neighbour of the
        ``local_starts`` best by :meth:`_rank` and, in the first round, of the best point evaluated
        (for a trade-off: of every point on its front); Optuna's GP sampler refines its acquisition
        the same way, from the same starts. The starts are ranked with no preference for the leading
        region (:meth:`_near_best`): they look for what may pass anywhere (starting them in the
        region too did worse on our own space). Returns all of them, their gains and their
        probabilities of reaching the threshold."""
        gain, p_feasible = self._screen(model, candidates, normal)
        anchors = self._points[self._front() if self.trade_off is not None else [int(np.nanargmin(self._values))]]
        for step in range(self.config.local_steps):
            rank = self._rank(gain, p_feasible)
            starts = candidates[torch.argsort(rank, descending=True)[: self.config.local_starts]]
            if step == 0:
                starts = torch.cat([starts, torch.from_numpy(anchors)])
            seen = taken | {row.tobytes() for row in candidates.numpy()}
            neighbours = torch.unique(self.space.canonical(self._neighbours(starts)), dim=0)
            neighbours = neighbours[[row.tobytes() not in seen for row in neighbours.numpy()]]
            if not len(neighbours):
                break
            candidates = torch.cat([candidates, neighbours])
            more_gain, more_p_feasible = self._screen(model, neighbours, normal)
            gain, p_feasible = torch.cat([gain, more_gain]), torch.cat([p_feasible, more_p_feasible])
        return candidates, gain, p_feasible

    def _neighbours(self, points: torch.Tensor) -> torch.Tensor:
        """Every point one choice away from each of ``points`` (``m x d``): each other level of
        each discrete coordinate; a continuous coordinate moves by +-``LOCAL_STEP``."""
        moves = []
        for j, levels in enumerate(self.space.levels):
            steps = [(k + 0.5) / levels for k in range(levels)] if levels else None
            for target in steps or (-LOCAL_STEP, LOCAL_STEP):
                moved = points.clone()
                moved[:, j] = target if steps else (moved[:, j] + target).clamp(0.0, 1.0)
                moves.append(moved)
        return torch.cat(moves)

    def _shortlist(self, candidates: torch.Tensor, rank: torch.Tensor, size: int) -> list[int]:
        """Indices of the ``size`` candidates of highest ``rank`` that are still free and within
        ``feasible``, best first: the joint posterior is drawn over these only."""
        shortlist = []
        for index in torch.argsort(rank, descending=True).tolist():
            if self._available(candidates[index].numpy()):
                shortlist.append(index)
                if len(shortlist) == size:
                    break
        return shortlist

    def _taken_rows(self) -> set[bytes]:
        """The canonical rows of every point told or pending: candidates that would be refused."""
        taken = torch.from_numpy(np.vstack([self._points, self._pending]))
        return {row.tobytes() for row in self.space.canonical(taken).numpy()}

    def _available(self, point: np.ndarray) -> bool:
        """Whether ``_claim`` would take ``point`` now (without claiming it)."""
        return self.canonicalize(point) not in self._keys and (self.feasible is None or self.feasible(point))

    def _restart(self, region: TrustRegion) -> TrustRegion:
        """A region that shrank away starts again at full length around the best point of every
        evaluation: the outcome model is global, so a fresh design would only spend evaluations
        on what the model already knows (the uniform candidates do the exploring)."""
        if self._modelled is None:
            return super()._restart(region)
        everything = np.flatnonzero(np.isfinite(self._values))
        restarted = restart_trust_region(region, np.empty((0, self.dim)), self.settings)
        return dataclasses.replace(restarted, observations=tuple(int(i) for i in everything),
                                   best_value=float(self._values[everything].min()) if len(everything) else math.inf)

    def _fit_outcome_model(self, indices: np.ndarray, seed: int):
        """GP of the logit outcome on the canonical points of every evaluation that has one
        (``indices``), an outcome told as an estimate with its error's variance as extra noise; its
        hyperparameters are fitted again once ``refit_every`` evaluations came in since the last
        fit, and kept in between."""
        train_X = self.space.canonical(torch.from_numpy(self._points[indices]))
        outcomes = torch.from_numpy(self._outcomes[indices])
        train_Y = to_logit(outcomes, self._modelled.bounds).unsqueeze(-1)
        sd = torch.from_numpy(np.nan_to_num(self._outcome_sd[indices], nan=0.0))
        train_Yvar = logit_variance(outcomes, sd, self._modelled.bounds).unsqueeze(-1) if sd.any() else None
        if self._hyperparameters is not None and len(indices) - self._fitted_on < self.config.refit_every:
            kept = {name: torch.tensor(value, dtype=torch.float64) for name, value in self._hyperparameters.items()}
            return outcome_gp(train_X, train_Y, self.space, kept, train_Yvar)
        model = fit_outcome_gp(train_X, train_Y, self.space, self.settings.gp_fit_iterations, seed, train_Yvar)
        self._hyperparameters = {name: value.tolist() for name, value in hyperparameters(model).items()}
        self._fitted_on = len(indices)
        return model

    def _strategy_state(self) -> dict:
        return {**super()._strategy_state(), "outcome_hyperparameters": self._hyperparameters,
                "fitted_on": self._fitted_on}

    def _load_strategy_state(self, state: dict) -> None:
        super()._load_strategy_state(state)
        self._hyperparameters, self._fitted_on = state["outcome_hyperparameters"], state["fitted_on"]

    def _candidates(self, regions: list, model, generator: torch.Generator, taken: set[bytes]
                    ) -> tuple[torch.Tensor, list]:
        """``N x d`` distinct candidates, none ``taken`` (told or pending): each region's around its best
        point, then uniform ones, all canonical (``MixedSpace.canonical``); and the region each is
        credited to."""
        parts, owners = [], []
        for region in regions:
            local = self._around(self._centre(region), region, model, generator)
            parts.append(local)
            owners += [region] * len(local)
        uniform = torch.rand(self.config.n_global, self.dim, generator=generator, dtype=torch.float64)
        parts.append(uniform)
        # a uniform pick is credited to the leading region: if it improves, the centre moves there
        owners += [min(regions, key=lambda region: region.best_value)] * self.config.n_global
        candidates = self.space.canonical(torch.cat(parts))
        if self.space.discrete:  # one candidate per choice combination, the first owner kept
            _, inverse = torch.unique(candidates, dim=0, return_inverse=True)
            first = torch.full((int(inverse.max()) + 1,), len(inverse), dtype=torch.long)
            first = first.scatter_reduce(0, inverse, torch.arange(len(inverse)), reduce="amin")
            keep = torch.sort(first).values
            candidates, owners = candidates[keep], [owners[i] for i in keep.tolist()]
        fresh = [i for i, row in enumerate(candidates.numpy()) if row.tobytes() not in taken]
        return candidates[fresh], [owners[i] for i in fresh]

    def _greedy_expected_improvement(self, values: torch.Tensor, p_feasible: torch.Tensor, local: torch.Tensor,
                                     candidates: np.ndarray, n: int) -> list[int]:
        """Up to ``n`` candidates (columns of ``values``, ``s x N`` objective samples) chosen one
        at a time by the Monte-Carlo expected improvement of the batch so far over the best value
        told, ranked by :meth:`_rank` with their probabilities ``p_feasible`` and flags ``local``
        (``N`` each); a candidate whose key is taken or that ``feasible`` refuses is skipped.

        Candidates with an unknown objective (NaN) come last; ties (no sample improves) go to the
        lowest mean value.
        """
        best = torch.full(values.shape[:1], float(np.nanmin(self._values)), dtype=values.dtype)
        unknown = torch.isnan(values).any(dim=0)
        values = torch.where(torch.isnan(values), torch.full_like(values, math.inf), values)
        mean = torch.where(unknown, torch.zeros_like(values[0]), values.mean(dim=0))
        tie_break = -1e-9 * (mean - mean.min()) / (mean.max() - mean.min() + 1e-12)
        available = torch.ones(values.shape[-1], dtype=torch.bool)
        picks: list[int] = []
        while len(picks) < n and available.any():
            gain = (best.unsqueeze(-1) - values).clamp(min=0).mean(dim=0) + tie_break
            rank = self._rank(torch.where(unknown, torch.full_like(gain, math.nan), gain), p_feasible, local)
            index = self._claim_best(rank, available, candidates)
            if index is not None:
                picks.append(index)
                best = torch.minimum(best, values[:, index])
        return picks

    def _greedy_hypervolume(self, samples: torch.Tensor, candidates: np.ndarray, n: int) -> list[int]:
        """Up to ``n`` candidates (columns of ``samples``, ``s x N`` joint outcome samples) chosen
        one at a time by the Monte-Carlo expected hypervolume they add to the front of what was
        told and of the batch so far (each sample's front takes a pick's outcome in that sample);
        a candidate whose cost is unknown, whose key is taken or that ``feasible`` refuses is skipped."""
        costs = torch.from_numpy(self.trade_off.cost(candidates))
        rows = self._front()
        front_outcomes = torch.from_numpy(self._outcomes[rows]).expand(len(samples), -1)
        front_costs = torch.from_numpy(self.trade_off.cost(self._points[rows]))
        available = torch.isfinite(costs)
        picks: list[int] = []
        while len(picks) < n and available.any():
            gain = hypervolume_improvement(samples, costs, front_outcomes, front_costs, self.trade_off.reference)
            index = self._claim_best(gain.mean(dim=0) + self._tie_break(samples), available, candidates)
            if index is not None:
                picks.append(index)
                front_outcomes = torch.cat([front_outcomes, samples[:, index : index + 1]], dim=-1)
                front_costs = torch.cat([front_costs, costs[index : index + 1]])
        return picks

    def _hypervolume_gain(self, samples: torch.Tensor, candidates: np.ndarray) -> torch.Tensor:
        """``N`` expected hypervolume improvements over the front of what was told, each candidate
        on its own (``samples``: ``s x N`` outcomes); NaN where its cost is unknown."""
        rows = self._front()
        costs, front_costs = (torch.from_numpy(self.trade_off.cost(points)) for points in (candidates, self._points[rows]))
        gain = hypervolume_improvement(samples, costs, torch.from_numpy(self._outcomes[rows]), front_costs,
                                       self.trade_off.reference)
        return gain.mean(dim=0) + self._tie_break(samples)

    def _tie_break(self, samples: torch.Tensor) -> torch.Tensor:
        """``N`` tiny bonuses for the highest mean outcome, for candidates that add no hypervolume."""
        low, high = self.trade_off.bounds
        return 1e-9 * (samples.mean(dim=0) - low) / (high - low)

    def _front(self) -> np.ndarray:
        """History rows on the trade-off's front: no other evaluation has as high an outcome at
        no higher cost (failures, with no outcome, are never on it)."""
        return np.flatnonzero(nondominated(self._outcomes, self.trade_off.cost(self._points)))

    def _claim_best(self, rank: torch.Tensor, available: torch.Tensor, candidates: np.ndarray) -> int | None:
        """The highest-ranked ``available`` candidate that :meth:`_claim` takes (each one tried is
        no longer available), or None when every available one was refused."""
        rank = torch.where(available, rank, torch.full_like(rank, -math.inf))
        for index in torch.argsort(rank, descending=True).tolist():
            if not available[index]:
                break
            available[index] = False
            if self._claim(candidates[index]):
                return index
        return None


def feasibility_first(gain: torch.Tensor, p_feasible: torch.Tensor, min_p_feasible: float,
                      local: torch.Tensor | None = None) -> torch.Tensor:
    """``N`` ranks, higher first, from expected improvements ``gain`` (NaN: objective unknown),
    probabilities ``p_feasible`` of reaching the threshold and flags ``local`` (in the leading
    trust region; None: all are), ``N`` each.

    Candidates the model expects to reach the threshold (``p_feasible >= min_p_feasible``) and to
    improve go by expected improvement, above every other; the other candidates that may improve
    go by ``p_feasible`` (SCBO's rule when nothing is expected to be feasible), the local ones
    first (SCBO's region: where the model is least wrong); then those that cannot improve
    (``gain`` at most ``NO_GAIN``), by ``p_feasible`` too; unknown objectives last.
    Below the threshold Eq. 2 is a 1/epsilon cliff, so expected improvement alone is ~ P(feasible)
    x the gain if feasible, and the cheapest candidates' thin tails outbid the ones likely to
    reach it. A candidate sure to reach the threshold but no cheaper than the best is worth nothing,
    so it must not outrank one that may be both.
    """
    improving = gain > NO_GAIN
    passing = improving & (p_feasible >= min_p_feasible)
    away = 0.0 if local is None else (~local).to(p_feasible.dtype)
    rank = torch.where(passing, 1.0 + gain / (1.0 + gain.abs()),
                       torch.where(improving, p_feasible - 1.0 - away, p_feasible - 3.0 + gain.clamp(max=NO_GAIN)))
    return torch.where(torch.isnan(gain), torch.full_like(gain, -4.0), rank)
