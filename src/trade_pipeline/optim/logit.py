"""The logit scale on which a bounded outcome (accuracy in 0-100 %) is modelled.

A GP's output is unbounded and its noise symmetric; an accuracy is neither. On the logit of its
share of the range, a student at 95 % and one at 99 % differ as much as their error rates do,
and the model stays informative on both sides of a target.
"""

from __future__ import annotations

import numpy as np
import torch

MARGIN = 1e-3
"""Outcomes are clipped to this share inside their range before the logit (0 % and 100 % are
reachable; their logit is not)."""
PERCENT = (0.0, 100.0)


def to_logit(outcomes: torch.Tensor | np.ndarray | float, bounds: tuple[float, float] = PERCENT
             ) -> torch.Tensor | np.ndarray:
    """The logit of each outcome's share of ``bounds``: a tensor for a tensor, else a float64 array."""
    low, high = bounds
    share = ((_as_tensor(outcomes) - low) / (high - low)).clamp(MARGIN, 1 - MARGIN)
    return _like(torch.logit(share), outcomes)


def from_logit(logits: torch.Tensor | np.ndarray | float, bounds: tuple[float, float] = PERCENT
               ) -> torch.Tensor | np.ndarray:
    """The outcomes whose :func:`to_logit` is ``logits`` (inside the margin)."""
    low, high = bounds
    return _like(low + (high - low) * torch.sigmoid(_as_tensor(logits)), logits)


def outcome_per_logit(outcomes: torch.Tensor | np.ndarray | float, bounds: tuple[float, float] = PERCENT
                      ) -> torch.Tensor | np.ndarray:
    """The slope of the outcome in its logit at ``outcomes``: what carries a deviation between the
    two scales, to first order."""
    low, high = bounds
    share = ((_as_tensor(outcomes) - low) / (high - low)).clamp(MARGIN, 1 - MARGIN)
    return _like((high - low) * share * (1 - share), outcomes)


def logit_variance(outcomes: torch.Tensor, sd: torch.Tensor, bounds: tuple[float, float] = PERCENT) -> torch.Tensor:
    """The variance on the logit scale of outcomes known to within standard deviations ``sd``
    (in the outcome's units), to first order."""
    return (sd / outcome_per_logit(outcomes, bounds)) ** 2


def _as_tensor(values: torch.Tensor | np.ndarray | float) -> torch.Tensor:
    return values if isinstance(values, torch.Tensor) else torch.as_tensor(np.asarray(values, dtype=np.float64))


def _like(result: torch.Tensor, given: torch.Tensor | np.ndarray | float) -> torch.Tensor | np.ndarray:
    return result if isinstance(given, torch.Tensor) else result.numpy()
