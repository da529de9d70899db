"""The soft-label cache: row i holds the teacher's logits for source image i, in the documented format."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from trade_pipeline.data.config import DataParams
from trade_pipeline.data.sources import load_source
from trade_pipeline.data.split import Split
from trade_pipeline.teachers.logits import logit_cache
from trade_pipeline.teachers.sources import TeacherError
from trade_pipeline.training.soft_labels import SoftLabels


def _linear_teacher() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 10))


def _expected_logits(model: nn.Module, split: Split, indices: np.ndarray) -> np.ndarray:
    """The teacher applied to the raw source images, normalised by hand (no loader involved)."""
    raw = load_source(DataParams(dataset="digits", n_test=1)).images["all"][indices].astype(np.float32)
    mean, std = (np.asarray(values, dtype=np.float32).reshape(1, -1, 1, 1) * 255.0 for values in (split.mean, split.std))
    with torch.no_grad():
        return model(torch.from_numpy((raw - mean) / std)).numpy()


def test_cache_has_the_documented_format(digits_split):
    cache = logit_cache("cnn", _linear_teacher(), digits_split, batch_size=64)
    assert (cache["teacher"], cache["num_classes"], cache["split_fingerprint"]) == ("cnn", 10, digits_split.fingerprint)
    for part in ("mini_train", "mini_val"):
        assert cache[part]["indices"].dtype == np.int64 and cache[part]["logits"].dtype == np.float16
        np.testing.assert_array_equal(cache[part]["indices"], digits_split.indices(part))
        assert cache[part]["logits"].shape == (len(digits_split.indices(part)), 10)


def test_each_cached_row_belongs_to_its_sample_and_soft_labels_find_it(digits_split):
    model = _linear_teacher()
    cache = logit_cache("cnn", model, digits_split, batch_size=32)  # several batches, last one partial
    for part in ("mini_train", "mini_val"):
        expected = _expected_logits(model, digits_split, digits_split.indices(part))
        np.testing.assert_allclose(cache[part]["logits"], expected, rtol=2e-3, atol=2e-3)
    wanted = digits_split.mini_train[[7, 0, 150]]  # any order, as a shuffled loader asks
    looked_up = SoftLabels.from_cache(cache, "mini_train").lookup(torch.from_numpy(wanted))
    np.testing.assert_allclose(looked_up.numpy(), _expected_logits(model, digits_split, wanted), rtol=2e-3, atol=2e-3)


class _Huge(nn.Module):
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return torch.full((len(images), 10), 1e6)


def test_logits_that_overflow_float16_are_refused(digits_split):
    with pytest.raises(TeacherError, match=r"teacher 'big' gives non-finite or float16-overflowing logits"):
        logit_cache("big", _Huge(), digits_split, batch_size=64)
