"""Stopping a student's proxy training once its learning curve says it cannot matter.

A student is scored on mini-val at a few shares of its proxy updates (``engine.Probe``, with
BatchNorm recalibrated as the final evaluation is: without it a few-epoch student scores at
chance). Students trained to the end give, per probe point, a map from the accuracy there to
the final one (``fidelity.rung_map``: a line on the logit scale with its spread). At a probe,
a student whose probability of a final Eq. 2 score better than the best so far is below
``min_p_improve`` stops; the strategy is told the log(Score) of its map's median final
accuracy, with that estimate's spread (the strategy's model takes it as a noisier outcome than
a measured one). The rule a bracket uses is fitted on the earlier brackets only, so the same seed
gives the same prunes whatever order a bracket's students finish in.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import Field, field_validator
from scipy.stats import norm

from trade_pipeline.config import StrictModel
from trade_pipeline.optim.logit import outcome_per_logit
from trade_pipeline.search.fidelity import RungMap, rung_map
from trade_pipeline.search.score import KDGuidedScore

QUANTILES = norm.ppf((np.arange(200) + 0.5) / 200)
"""Standard-normal quantiles over which a final accuracy's spread is averaged (deterministic)."""


class PruningParams(StrictModel):
    """``search.pruning``: off by default (docs/search.md)."""

    enabled: bool = False
    at: list[float] = Field(default=[0.25, 0.5], min_length=1)
    """Shares of the proxy's updates after which a student is scored and may be stopped."""
    min_p_improve: float = Field(default=0.05, gt=0.0, lt=1.0)
    """A student whose probability of beating the best score so far is below this stops."""
    min_completed: int = Field(default=8, ge=2)
    """Students trained to the end (with their curves) before any is stopped: the maps' data."""

    @field_validator("at")
    @classmethod
    def _inside_the_run(cls, at: list[float]) -> list[float]:
        if any(not 0.0 < share < 1.0 for share in at):
            raise ValueError(f"every share must be in (0, 1), got {at}")
        return sorted(set(at))


@dataclass(frozen=True)
class PruneRule:
    """What a bracket's students are probed at and stopped by.

    ``at``: update counts of the probes; ``maps``: per probe, its accuracy -> the final one (empty
    while too few students finished: probe, never stop); ``best_log_score``: the best told
    before the bracket.
    """

    at: tuple[int, ...]
    total_updates: int
    score: KDGuidedScore
    maps: tuple[RungMap, ...] = ()
    best_log_score: float = math.inf
    min_p_improve: float = 0.05

    def p_improve(self, updates: int, accuracy: float, s: float) -> float:
        """P(the final log(Score) beats ``best_log_score``) of a student at ``accuracy`` after
        ``updates``, with resource ratio ``s``."""
        finals = self.maps[self.at.index(updates)].at_deviations(accuracy, QUANTILES)
        return float(np.mean([self.score.log_value(final, s) < self.best_log_score for final in finals]))

    def stop(self, updates: int, accuracy: float, s: float) -> bool:
        return bool(self.maps) and self.p_improve(updates, accuracy, s) < self.min_p_improve

    def estimate(self, updates: int, accuracy: float) -> float:
        """The final accuracy a student at ``accuracy`` after ``updates`` most likely reaches."""
        return self.maps[self.at.index(updates)].median(accuracy)

    def estimate_sd(self, updates: int, accuracy: float) -> float:
        """The standard deviation of that final accuracy around :meth:`estimate`, to first order
        (the map's spread is on the logit scale): what the strategy is told with the estimate."""
        return self.maps[self.at.index(updates)].sigma * float(outcome_per_logit(self.estimate(updates, accuracy)))


def probe_updates(shares: Iterable[float], total_updates: int) -> tuple[int, ...]:
    """The update counts of ``shares`` of a run of ``total_updates`` (at least 1, before the last)."""
    return tuple(sorted({min(total_updates - 1, max(1, round(share * total_updates))) for share in shares}))


def pruning_rule(rows: Iterable[Mapping[str, Any]], params: PruningParams, total_updates: int,
                 score: KDGuidedScore) -> PruneRule | None:
    """The rule for the next bracket from the trial rows of the earlier ones (None: pruning off)."""
    if not params.enabled:
        return None
    at = probe_updates(params.at, total_updates)
    rows = list(rows)
    finished = [row for row in rows if row["status"] == "ok" and row.get("curve")]
    told = [row["log_score"] for row in rows if row["status"] == "ok" and row["log_score"] is not None]
    if len(finished) < params.min_completed:
        return PruneRule(at, total_updates, score)
    curves = [(dict((int(u), top1) for u, top1 in row["curve"]), row["proxy_accuracy"]) for row in finished]
    maps = tuple(rung_map([(curve[u], final) for curve, final in curves if u in curve]) for u in at)
    return PruneRule(at, total_updates, score, maps, min(told, default=math.inf), params.min_p_improve)
