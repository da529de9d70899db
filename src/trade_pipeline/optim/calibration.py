"""Recalibrating a model by its errors on the points it chose, before it saw them.

A GP's posterior can be calibrated over the space -- its leave-one-out errors centred, of unit
spread -- and still be optimistic where the search goes: the acquisition picks, out of thousands
of candidates, the ones whose prediction looks best, so it favours those the model overrates (the
optimiser's curse, Smith & Winkler 2006). Each pick's outcome, scored against the prediction it
was chosen on (a prequential error, Dawid 1984), measures exactly that; later predictions are
shifted and widened by the mean and spread of those errors, shrunk towards a calibrated model
(mean 0, spread 1) by a prior worth a few picks, so that one batch does not swing them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

PRIOR_WEIGHT = 4.0
"""Picks' worth of errors of a calibrated model (mean 0, spread 1) that the measured ones are pooled with."""


@dataclass
class ForwardErrors:
    """Standardised errors ``(outcome - predicted mean) / predicted deviation`` of the model's picks."""

    errors: list[float] = field(default_factory=list)

    def add(self, mean: float, sd: float, outcome: float) -> None:
        """Score one pick's ``outcome`` against the posterior ``mean`` and ``sd`` it was chosen on."""
        if sd > 0 and math.isfinite(mean) and math.isfinite(outcome):
            self.errors.append((outcome - mean) / sd)

    def shift_and_scale(self) -> tuple[float, float]:
        """``(b, c)``: outcomes fall at ``mean + b * sd`` with deviation ``c * sd``. ``b`` is the errors'
        sum over their count plus ``PRIOR_WEIGHT``; ``c**2`` pools their squared deviations from
        ``b`` with ``PRIOR_WEIGHT`` unit ones."""
        n = len(self.errors)
        shift = sum(self.errors) / (n + PRIOR_WEIGHT)
        spread = (PRIOR_WEIGHT + sum((error - shift) ** 2 for error in self.errors)) / (PRIOR_WEIGHT + n)
        return shift, math.sqrt(spread)

    def marginals(self, mean: torch.Tensor, sd: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The recalibrated posterior means and deviations of ``mean`` and ``sd``."""
        shift, scale = self.shift_and_scale()
        return mean + shift * sd, scale * sd

    def samples(self, samples: torch.Tensor, mean: torch.Tensor, sd: torch.Tensor) -> torch.Tensor:
        """``s x N`` posterior samples recalibrated: moved by ``b * sd`` and spread ``c`` times as far
        from ``mean`` (``N`` each), so their correlations are kept."""
        shift, scale = self.shift_and_scale()
        return mean + shift * sd + scale * (samples - mean)
