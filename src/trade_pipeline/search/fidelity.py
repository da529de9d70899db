"""Multi-fidelity search: successive halving over rungs of the proxy task.

With ``search.fidelity`` enabled (rungs such as ``[0.33, 1.0]``) each batch the strategy asks for
is a bracket: every candidate is trained on the first rung's share of the proxy data, the best
``1/eta`` of them (by Eq. 2's log score on the full rung, averaged over the rung map's spread:
:meth:`RungMap.expected_log_score`) are trained again from
scratch on the next rung, and so on up to the full proxy task. Every evaluation is a row of
the trial log with its ``rung``; promotions are worked out from the log, so a search killed
mid-bracket resumes exactly.

The strategy is told each candidate once, at the end of its bracket, as one fidelity: the
full-rung accuracy where it reached the top, otherwise its accuracy on the highest rung it
reached mapped to the top rung by a straight line on the logit scale, fitted on the students
evaluated at both (a model per rung with rank transfer). The map is monotone, so it keeps each rung's ranking, and the strategy's own model
stays the single-fidelity one: every strategy can use the ladder, and ``optim/`` knows nothing
about it.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import Field, field_validator, model_validator

from trade_pipeline.config import StrictModel
from trade_pipeline.optim.logit import from_logit, to_logit
from trade_pipeline.search.score import KDGuidedScore
from trade_pipeline.training.recipe import TrainingRecipe

MIN_PAIRS_FOR_SLOPE = 3  # below this many students seen at both rungs, only an offset is fitted
PRIOR_SIGMA = 1.0  # logit spread of the rung map before any student was seen at both rungs
PRIOR_WEIGHT = 2  # ... counted as this many pairs once some were
QUADRATURE_NODES = 32  # Gauss-Hermite nodes of the expected log(Score)


class FidelityParams(StrictModel):
    """``search.fidelity``: the rungs (shares of the proxy task's training data, rising to 1.0)
    and how many of a rung's candidates survive to the next (``1/eta``). Off unless ``enabled``,
    which giving ``rungs`` switches on."""

    enabled: bool = False
    rungs: list[float] = Field(default=[0.33, 1.0], min_length=1)
    eta: int = Field(default=3, ge=2)

    @model_validator(mode="before")
    @classmethod
    def _rungs_given_switch_it_on(cls, data: Any) -> Any:
        if isinstance(data, dict) and "rungs" in data and "enabled" not in data:
            return {**data, "enabled": True}
        return data

    @field_validator("rungs")
    @classmethod
    def _rising_to_one(cls, rungs: list[float]) -> list[float]:
        if any(not 0 < rung <= 1 for rung in rungs) or rungs[-1] != 1.0:
            raise ValueError(f"rungs are shares of the proxy data in (0, 1] ending at 1.0, got {rungs}")
        if any(low >= high for low, high in zip(rungs, rungs[1:])):
            raise ValueError(f"rungs must rise strictly, got {rungs}")
        return rungs

    @property
    def ladder(self) -> list[float]:
        """The rungs in use: ``rungs`` when enabled, else the full proxy task alone."""
        return list(self.rungs) if self.enabled else [1.0]

    @property
    def top(self) -> int:
        return len(self.ladder) - 1

    def survivors(self, count: int) -> int:
        """How many of ``count`` candidates scored at a rung go on to the next: ``count // eta``,
        at least one while any scored."""
        return max(1, count // self.eta) if count else 0


@dataclass(frozen=True)
class RungMap:
    """``logit(top) ~ N(offset + slope * logit(low), sigma^2)``: a lower rung's accuracy on the
    top rung's scale, with the spread of the students seen at both (:func:`rung_map`)."""

    offset: float = 0.0
    slope: float = 1.0
    sigma: float = PRIOR_SIGMA

    def median(self, accuracy: float) -> float:
        """The top-rung accuracy a student with ``accuracy`` on the lower rung most likely reaches."""
        return float(from_logit(self.offset + self.slope * to_logit(accuracy)))

    def expected_log_score(self, accuracy: float, s: float, score: KDGuidedScore) -> float:
        """Eq. 2's log(Score) on the top rung, averaged over the map's spread: below the target
        a student with a fair chance of reaching it ranks above a cheaper one with none, which a
        plug-in estimate would not see (every low rung scores below the top)."""
        nodes, weights = np.polynomial.hermite_e.hermegauss(QUADRATURE_NODES)
        return score.expected_log_value(self.at_deviations(accuracy, nodes), weights, s)

    def at_deviations(self, accuracy: float, z: np.ndarray) -> np.ndarray:
        """The top-rung accuracies ``z`` standard deviations of the spread from the median."""
        return from_logit(self.offset + self.slope * to_logit(accuracy) + self.sigma * z)


def rung_map(pairs: Sequence[tuple[float, float]]) -> RungMap:
    """The :class:`RungMap` of ``pairs`` (accuracy at a low rung, accuracy at the top rung) of the
    same students: a least-squares line on the logit scale from ``MIN_PAIRS_FOR_SLOPE`` pairs
    (while its slope is positive), an offset alone below that, the identity with none. The
    spread shrinks from ``PRIOR_SIGMA`` towards the residuals' as pairs come in."""
    if not pairs:
        return RungMap()
    low, top = (to_logit([pair[i] for pair in pairs]) for i in (0, 1))
    offset, slope = float(np.mean(top - low)), 1.0
    if len(pairs) >= MIN_PAIRS_FOR_SLOPE and np.ptp(low) > 0:
        fitted_slope, fitted_offset = np.polyfit(low, top, 1)
        if fitted_slope > 0:
            offset, slope = float(fitted_offset), float(fitted_slope)
    residuals = top - (offset + slope * low)
    sigma = math.sqrt((np.sum(residuals**2) + PRIOR_WEIGHT * PRIOR_SIGMA**2) / (len(pairs) + PRIOR_WEIGHT))
    return RungMap(offset, slope, sigma)


def rung_maps(rows: Iterable[Mapping[str, Any]], fidelity: FidelityParams) -> dict[int, RungMap]:
    """A :class:`RungMap` per rung below the top, fitted on every student of ``rows`` that was
    scored there and on the top rung in the same bracket."""
    found: dict[tuple[int, str], dict[int, float]] = {}
    for row in rows:
        if row["status"] == "ok" and row["proxy_accuracy"] is not None:
            found.setdefault((row["iteration"], row["spec_hash"]), {})[row["rung"]] = row["proxy_accuracy"]
    return {rung: rung_map([(by_rung[rung], by_rung[fidelity.top]) for by_rung in found.values()
                            if rung in by_rung and fidelity.top in by_rung])
            for rung in range(fidelity.top)}


def bracket_estimates(bracket: Sequence[Mapping[str, Any]], maps: Mapping[int, RungMap],
                      fidelity: FidelityParams) -> dict[str, float | None]:
    """Each student's estimated top-rung proxy accuracy (by spec hash; None where it has none):
    its top-rung accuracy if it got there, else its highest rung's through that rung's map."""
    estimates: dict[str, float | None] = {}
    for spec_hash, row in highest_rows(bracket).items():
        accuracy = {"ok": row["proxy_accuracy"], "pruned": row.get("estimated_accuracy")}.get(row["status"])
        if accuracy is not None and row["rung"] < fidelity.top:
            accuracy = maps[row["rung"]].median(accuracy)
        estimates[spec_hash] = accuracy
    return estimates


def highest_rows(bracket: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """Each student's row at the highest rung it reached in ``bracket`` (by spec hash)."""
    highest: dict[str, Mapping[str, Any]] = {}
    for row in bracket:
        if row["spec_hash"] not in highest or row["rung"] > highest[row["spec_hash"]]["rung"]:
            highest[row["spec_hash"]] = row
    return highest


def promotions(rows: Sequence[Mapping[str, Any]], count: int,
               estimated_value: Mapping[str, float]) -> list[Mapping[str, Any]]:
    """The ``count`` rows of one rung to train on the next: the lowest expected log(Score)
    (``estimated_value`` by spec hash, e.g. :meth:`RungMap.expected_log_score`; NaN never goes
    on), ties in trial order."""
    scored = [row for row in rows if math.isfinite(estimated_value.get(row["spec_hash"], math.nan))]
    return sorted(scored, key=lambda row: (estimated_value[row["spec_hash"]], row["trial_id"]))[:count]


def images_seen(images: int, recipe: TrainingRecipe) -> int:
    """Proxy compute of one evaluation in image-epochs: ``images`` x epochs, or steps x batch."""
    return int(images) * recipe.epochs if recipe.epochs is not None else recipe.steps * recipe.batch_size
