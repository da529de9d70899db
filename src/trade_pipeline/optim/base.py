"""Ask/tell minimisation on the unit cube [0, 1]^d: the bookkeeping every strategy shares.

A strategy only decides *where* to sample next (``_propose``) and what to learn from results
(``_observe``). This base keeps the evaluation history, the points asked but not yet told,
the de-duplication keys, the evaluation budget and the random generator, and turns all of it
into a JSON-able ``state_dict`` so a killed search resumes with the very same proposals.
"""

from __future__ import annotations

import abc
import logging
import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal, TypeVar

import numpy as np
import torch

from trade_pipeline.config import StrictModel

logger = logging.getLogger(__name__)
ArrayOrTensor = TypeVar("ArrayOrTensor", np.ndarray, torch.Tensor)

Canonicalize = Callable[[np.ndarray], Hashable]
"""Maps a point (``d``) to the identity of what it encodes, e.g. an architecture hash."""

RANDOM_ORIGIN = -1
"""``last_region_ids`` entry of a point drawn uniformly at random rather than by a region."""


def to_json_float(value: float) -> float | None:
    """NaN/inf have no JSON spelling: store them as ``None``."""
    return float(value) if math.isfinite(value) else None


def from_json_float(value: float | None, missing: float = math.nan) -> float:
    return missing if value is None else float(value)


def _exact_key(point: np.ndarray) -> Hashable:
    return tuple(point.tolist())


def bin_levels(values: ArrayOrTensor, counts: ArrayOrTensor) -> ArrayOrTensor:
    """The level (as a float) each value in [0, 1] falls in, with ``counts`` levels: level ``k``
    owns ``[k/counts, (k+1)/counts)`` and the last one also 1; values outside are clipped. The
    one binning rule of the cube, for numpy arrays and torch tensors alike (``counts`` broadcasts)."""
    scaled = values.clip(0.0, 1.0) * counts
    levels = scaled - scaled % 1.0
    return levels - (levels >= counts) * 1.0


@dataclass(frozen=True)
class Dimension:
    """What one coordinate of the cube encodes.

    ``continuous``: any value in [0, 1]. ``ordinal`` / ``categorical``: ``levels`` choices,
    level ``k`` owning the bin ``[k/levels, (k+1)/levels)`` (the last bin includes 1), so every
    point decodes to a choice; ordinal levels are ordered (kernel 3 < 5), categorical ones are
    not (MBConv vs Fused-MBConv).

    ``active_if``: ``(coordinate, levels)`` when this coordinate only matters while that
    (discrete) one is at one of ``levels`` -- a conditional choice, like ConfigSpace's
    ``InCondition`` (a block's kernel size while the block has layers). Points that differ only
    in inactive coordinates are the same candidate.
    """

    kind: Literal["continuous", "ordinal", "categorical"] = "continuous"
    levels: int | None = None
    active_if: tuple[int, tuple[int, ...]] | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("continuous", "ordinal", "categorical"):
            raise ValueError(f"dimension kind must be continuous, ordinal or categorical, got {self.kind!r}")
        if (self.kind == "continuous") != (self.levels is None) or (self.levels is not None and self.levels < 2):
            raise ValueError(f"a {self.kind} dimension needs levels {'None' if self.kind == 'continuous' else '>= 2'}, "
                             f"got {self.levels!r}")
        if self.active_if is not None and (self.active_if[0] < 0 or not self.active_if[1]):
            raise ValueError(f"active_if needs a coordinate index >= 0 and at least one level, got {self.active_if!r}")

    @property
    def discrete(self) -> bool:
        return self.levels is not None

    def level(self, values: np.ndarray) -> np.ndarray:
        """The level (int) each coordinate value falls in; only for discrete dimensions."""
        return bin_levels(np.asarray(values, dtype=np.float64), self.levels).astype(int)

    def centre(self, levels: np.ndarray) -> np.ndarray:
        """The coordinate value at the middle of each level's bin."""
        return (np.asarray(levels, dtype=np.float64) + 0.5) / self.levels


def continuous_dimensions(dim: int) -> tuple[Dimension, ...]:
    return tuple(Dimension() for _ in range(dim))


class AskTellOptimizer(abc.ABC):
    """Minimises a black box on [0, 1]^d through ``ask`` / ``tell``.

    Args:
        dim: number of input dimensions ``d``.
        seed: seeds the only random generator; equal seeds and equal tells give equal asks.
        canonicalize: points with equal keys are the same candidate; a key already told or
            pending is never proposed again. Defaults to the exact point.
        max_evaluations: total budget; ``ask`` never proposes beyond it (told + pending).
        dedup_tries: how many draws per requested point before the space counts as exhausted.
        dimensions: the kind of each coordinate (default: all continuous); strategies that
            work in choice space (evolution, RL) and the type-aware TuRBO read it.
        feasible: ``point -> bool`` for constraints known before evaluation (e.g. a cost
            budget): a point it refuses is never proposed, whatever the strategy, and counted
            in ``filtered``. Like ``canonicalize`` it is code, so a resumed run passes it again.
        config, options: the strategy's settings (``config_class``) and/or its fields as
            keywords (options win), validated; resuming restores the saved ones.
    """

    strategy: ClassVar[str]
    config_class: ClassVar[type[StrictModel] | None] = None
    """The strategy's settings (``search.<strategy>``), or None when it has none."""
    takes: ClassVar[frozenset[str]] = frozenset()
    """Keyword options beyond the ones above that the strategy takes from what its caller knows
    (``batch_size``, ``objective``, ``trade_off``); a caller passes each it has that is named here."""
    multi_objective: ClassVar[bool] = False
    """Whether it can search a trade-off's front (``trade_off``), not only minimise the values told."""

    def __init__(
        self,
        dim: int,
        seed: int = 0,
        *,
        canonicalize: Canonicalize | None = None,
        max_evaluations: int | None = None,
        dedup_tries: int = 100,
        dimensions: Sequence[Dimension] | None = None,
        feasible: Callable[[np.ndarray], bool] | None = None,
        config: StrictModel | None = None,
        **options: object,
    ) -> None:
        if dim < 1:
            raise ValueError(f"dim must be >= 1, got {dim}.")
        if max_evaluations is not None and max_evaluations < 1:
            raise ValueError(f"max_evaluations must be >= 1 or None, got {max_evaluations}.")
        dimensions = tuple(dimensions) if dimensions is not None else continuous_dimensions(dim)
        if len(dimensions) != dim:
            raise ValueError(f"got {len(dimensions)} dimension descriptions for dim={dim}.")
        self.dim = dim
        self.dimensions = dimensions
        self.seed = seed
        self.canonicalize = canonicalize or _exact_key
        self.max_evaluations = max_evaluations
        self.dedup_tries = dedup_tries
        self.feasible = feasible
        self.filtered = 0
        self._rng = np.random.default_rng(seed)
        self._points = np.empty((0, dim))
        self._values = np.empty(0)
        self._outcomes = np.empty(0)
        self._outcome_sd = np.empty(0)
        self._pending = np.empty((0, dim))
        self._pending_origins: list[dict] = []
        self._keys: set[Hashable] = set()
        self._last_region_ids: list[int] = []
        self._last_origins: list[dict] = []
        if self.config_class is not None:
            self.config = self.config_class.model_validate({**(config or self.config_class()).model_dump(), **options})
        elif config is not None or options:
            raise TypeError(f"strategy {self.strategy!r} has no settings; got {config or sorted(options)}")

    @property
    def points(self) -> np.ndarray:
        """``n x d`` points told so far."""
        return self._points.copy()

    @property
    def values(self) -> np.ndarray:
        """``n`` values told so far (NaN for failed evaluations)."""
        return self._values.copy()

    @property
    def outcomes(self) -> np.ndarray:
        """``n`` black-box outcomes told with the values (NaN where none was told)."""
        return self._outcomes.copy()

    @property
    def outcome_sd(self) -> np.ndarray:
        """``n`` standard deviations of the outcomes told as estimates (NaN: measured)."""
        return self._outcome_sd.copy()

    @property
    def initial_evaluations(self) -> int:
        """Evaluations spent on a design before the strategy uses what it learned (0: none)."""
        return 0

    @property
    def last_region_ids(self) -> list[int]:
        """Trust region of each point of the last ``ask`` (-1: uniform random)."""
        return list(self._last_region_ids)

    @property
    def last_guidance(self) -> list[dict]:
        """What the strategy knew of each point of the last ``ask``: ``guided`` (chosen from what
        it learned, not by a design or a uniform draw) and, from a strategy that models the
        black-box outcome, ``predicted`` (its posterior mean) and ``p_feasible`` (its probability of
        reaching the objective's threshold); None where it has no such model."""
        return [{"guided": not origin.get("initial", False) and origin["region"] != RANDOM_ORIGIN,
                 "predicted": origin.get("predicted"), "p_feasible": origin.get("p_feasible")}
                for origin in self._last_origins]

    def ask(self, n: int) -> np.ndarray:
        """Propose up to ``n`` new points (``n x d`` float64 in [0, 1]).

        Fewer come back only when the budget or the space of distinct keys runs out.
        """
        if n < 0:
            raise ValueError(f"ask(n) needs n >= 0, got {n}.")
        if self.max_evaluations is not None:
            n = min(n, max(0, self.max_evaluations - len(self._values) - len(self._pending)))
        points, origins = self._propose(n) if n else (np.empty((0, self.dim)), [])
        self._pending = np.vstack([self._pending, points])
        self._pending_origins += origins
        self._last_region_ids = [origin["region"] for origin in origins]
        self._last_origins = origins
        return points.copy()

    def tell(self, points: np.ndarray, values: np.ndarray, outcomes: np.ndarray | None = None,
             outcome_sd: np.ndarray | None = None) -> None:
        """Record evaluations: ``points`` ``n x d``, ``values`` ``n`` (NaN = failed evaluation).

        ``outcomes`` (``n``, NaN = unknown) is the black-box part of each value when the value
        is a known function of it (``composite``: proxy accuracy, whose Eq. 2 score is the
        value); strategies that model only values ignore it. ``outcome_sd`` (``n``, NaN or 0 =
        measured) marks an outcome that was estimated rather than measured (a student stopped
        early is told its likely final accuracy) with the standard deviation of its error, so a
        model of the outcome can weigh it less. Every asked point should be told once, failed
        ones as NaN; points never asked are accepted too (they join the history and the
        de-duplication keys).
        """
        points = np.asarray(points, dtype=np.float64).reshape(-1, self.dim)
        values = np.asarray(values, dtype=np.float64).reshape(-1)
        outcomes = np.full(len(values), math.nan) if outcomes is None else np.asarray(outcomes, np.float64).reshape(-1)
        outcome_sd = (np.full(len(values), math.nan) if outcome_sd is None
                      else np.asarray(outcome_sd, np.float64).reshape(-1))
        if not len(points) == len(values) == len(outcomes) == len(outcome_sd):
            raise ValueError(f"tell got {len(points)} points, {len(values)} values, {len(outcomes)} outcomes and "
                             f"{len(outcome_sd)} outcome deviations.")
        if (outcome_sd < 0).any():
            raise ValueError(f"an outcome's standard deviation cannot be negative, got {outcome_sd.min()}")
        origins = [self._pop_pending(point) for point in points]
        self._keys.update(self.canonicalize(point) for point in points)
        indices = np.arange(len(self._values), len(self._values) + len(values))
        self._points = np.vstack([self._points, points])
        self._values = np.concatenate([self._values, values])
        self._outcomes = np.concatenate([self._outcomes, outcomes])
        self._outcome_sd = np.concatenate([self._outcome_sd, np.where(outcome_sd > 0, outcome_sd, math.nan)])
        self._observe(indices, origins)

    def describe(self) -> list[dict]:
        """Per trust region: id, length, counters, best value, observations, restarts."""
        return []

    def state_dict(self, history: bool = True) -> dict:
        """Everything needed to resume, as JSON-able Python types only.

        ``history=False`` leaves out the points, values, outcomes and outcome deviations told
        (keeping their count), for a caller that keeps its own record of them, as the search's
        trial log does; it hands them back to :meth:`load_state_dict`.
        """
        state = {
            "strategy": self.strategy,
            "dim": self.dim,
            "seed": self.seed,
            "max_evaluations": self.max_evaluations,
            "rng": self._rng.bit_generator.state,
            "n_told": len(self._values),
            "filtered": self.filtered,
            "pending": self._pending.tolist(),
            "pending_origins": [dict(origin) for origin in self._pending_origins],
            "last_region_ids": list(self._last_region_ids),
            **({"config": self.config.model_dump(mode="json")} if self.config_class is not None else {}),
            **self._strategy_state(),
        }
        if history:
            state["history"] = {
                "points": self._points.tolist(),
                "values": [to_json_float(value) for value in self._values],
                "outcomes": [to_json_float(outcome) for outcome in self._outcomes],
                "outcome_sd": [to_json_float(sd) for sd in self._outcome_sd],
            }
        return state

    def load_state_dict(self, state: dict, history: dict | None = None) -> None:
        """Resume from ``state_dict()``; the next ``ask`` equals the original's.

        ``history`` (``points`` ``n x d``, ``values``, ``outcomes`` and optionally ``outcome_sd`` ``n``,
        in the order told) replaces a history the state was saved without; its length must be the
        state's count.
        """
        if state["strategy"] != self.strategy or state["dim"] != self.dim:
            raise ValueError(
                f"Saved optimizer state is for strategy={state['strategy']!r}, dim={state['dim']}; "
                f"this optimizer is strategy={self.strategy!r}, dim={self.dim}. "
                "Resume with the same search.strategy and search space, or start a fresh run."
            )
        history = history if history is not None else state.get("history")
        if history is None or len(history["values"]) != state["n_told"]:
            raise ValueError(
                f"the optimizer state was saved after {state['n_told']} evaluations but the history given has "
                f"{'none' if history is None else len(history['values'])}; the record of evaluations does not "
                "belong to this state (was it edited or cut short?)"
            )
        self.seed = state["seed"]
        self.max_evaluations = state["max_evaluations"]
        self._rng.bit_generator.state = state["rng"]
        self._points = np.array(history["points"], dtype=np.float64).reshape(-1, self.dim)
        self._values = np.array([from_json_float(v) for v in history["values"]], dtype=np.float64)
        self._outcomes = np.array([from_json_float(v) for v in history["outcomes"]], dtype=np.float64)
        told_sd = history.get("outcome_sd", [None] * len(self._outcomes))  # states saved before deviations: none
        self._outcome_sd = np.array([from_json_float(v) for v in told_sd], dtype=np.float64)
        self.filtered = state["filtered"]
        self._pending = np.array(state["pending"], dtype=np.float64).reshape(-1, self.dim)
        self._pending_origins = [dict(origin) for origin in state["pending_origins"]]
        self._last_region_ids = list(state["last_region_ids"])
        self._keys = {self.canonicalize(p) for p in np.vstack([self._points, self._pending])}
        if self.config_class is not None:
            saved = self.config_class.model_validate(state["config"])
            if saved != self.config:  # resuming with other settings would change the next asks
                logger.warning("Resuming %s with the saved settings %s, not %s.", self.strategy, saved, self.config)
            self.config = saved
        self._load_strategy_state(state)

    @abc.abstractmethod
    def _propose(self, n: int) -> tuple[np.ndarray, list[dict]]:
        """``n x d`` fresh points (keys claimed via ``_claim``) and one JSON-able origin each,
        holding at least ``"region"``; the origin comes back to ``_observe`` on ``tell``."""

    def _observe(self, indices: np.ndarray, origins: list[dict]) -> None:
        """Learn from history entries ``indices`` (``n``), asked with ``origins``."""

    def _strategy_state(self) -> dict:
        return {}

    def _load_strategy_state(self, state: dict) -> None:
        pass

    def _claim(self, point: np.ndarray) -> bool:
        """Reserve ``point``'s key; False if that candidate was already told or pending, or if
        ``feasible`` refuses it: a refused proposal, counted in ``filtered`` (a candidate refused
        now may pass later, when what is known about its costs has changed)."""
        key = self.canonicalize(point)
        if key in self._keys:
            return False
        if self.feasible is not None and not self.feasible(point):
            self.filtered += 1
            return False
        self._keys.add(key)
        return True

    def _draw_unique(self, n: int, draw: Callable[[int], np.ndarray]) -> np.ndarray:
        """Up to ``n`` fresh points (``n x d``) from ``draw(k) -> k x d``, replacing duplicates.

        Gives up after ``dedup_tries`` draws per requested point: the space of distinct
        keys is then (nearly) exhausted and a warning says how many points are missing.
        """
        fresh: list[np.ndarray] = []
        drawn = 0
        while len(fresh) < n and drawn < n * self.dedup_tries:
            batch = draw(n - len(fresh))
            drawn += len(batch)
            fresh += [point for point in batch if self._claim(point)]
        if len(fresh) < n:
            logger.warning(
                "%s proposed %d of %d requested points: after %d draws every other candidate "
                "was already evaluated or pending (the search space looks exhausted).",
                type(self).__name__, len(fresh), n, drawn,
            )
        return np.array(fresh, dtype=np.float64).reshape(-1, self.dim)

    def _draw_random(self, n: int) -> tuple[np.ndarray, list[dict]]:
        """Up to ``n`` fresh uniform points, tagged with the random origin."""
        points = self._draw_unique(n, lambda k: self._rng.random((k, self.dim)))
        return points, [{"region": RANDOM_ORIGIN} for _ in points]

    def _pop_pending(self, point: np.ndarray) -> dict:
        """Origin of a told point, removing it from the pending ones (random if never asked)."""
        matches = np.flatnonzero(np.all(np.abs(self._pending - point) <= 1e-12, axis=1))
        if not len(matches):
            return {"region": RANDOM_ORIGIN}
        row = int(matches[0])
        self._pending = np.delete(self._pending, row, axis=0)
        return self._pending_origins.pop(row)
