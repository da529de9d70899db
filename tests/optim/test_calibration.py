"""Recalibrating the outcome model by its errors on its own picks, against hand-computed values."""
from __future__ import annotations

import math

import pytest
import torch

from trade_pipeline.optim.calibration import PRIOR_WEIGHT, ForwardErrors


def test_without_errors_the_model_is_taken_as_it_is() -> None:
    errors = ForwardErrors()
    assert errors.shift_and_scale() == (0.0, 1.0)
    mean, sd = torch.tensor([0.3, -1.0], dtype=torch.float64), torch.tensor([0.5, 2.0], dtype=torch.float64)
    shifted, widened = errors.marginals(mean, sd)
    assert torch.equal(shifted, mean) and torch.equal(widened, sd)


def test_shift_and_scale_pool_the_errors_with_a_calibrated_prior() -> None:
    assert PRIOR_WEIGHT == 4.0  # the hand values below assume it
    errors = ForwardErrors()
    errors.add(mean=1.0, sd=0.5, outcome=0.0)  # (0 - 1) / 0.5 = -2
    errors.add(mean=2.0, sd=1.0, outcome=1.0)  # -1
    assert errors.errors == [-2.0, -1.0]
    shift, scale = errors.shift_and_scale()
    assert shift == pytest.approx(-3.0 / 6.0)  # sum / (2 + 4)
    assert scale == pytest.approx(math.sqrt((4.0 + 1.5**2 + 0.5**2) / 6.0))  # (4 + squared deviations from b) / 6
    mean, sd = torch.tensor([1.0], dtype=torch.float64), torch.tensor([0.5], dtype=torch.float64)
    shifted, widened = errors.marginals(mean, sd)
    assert shifted.item() == pytest.approx(0.75) and widened.item() == pytest.approx(0.5 * scale)
    # a sample half a deviation above the mean: moved with it, and spread c times as far from it
    sample = errors.samples(torch.tensor([[1.25]], dtype=torch.float64), mean, sd)
    assert sample.item() == pytest.approx(0.75 + scale * 0.25)


def test_a_pick_without_a_deviation_or_an_outcome_is_not_scored() -> None:
    errors = ForwardErrors()
    errors.add(mean=1.0, sd=0.0, outcome=0.0)
    errors.add(mean=1.0, sd=0.5, outcome=math.nan)
    assert errors.errors == []
