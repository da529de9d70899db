"""SoftLabels: index-aligned O(batch) lookup of cached teacher logits."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from trade_pipeline.training.soft_labels import MissingSoftLabelsError, SoftLabels


def _cache() -> tuple[np.ndarray, np.ndarray]:
    indices = np.array([40, 7, 13, 2, 99], dtype=np.int64)
    logits = np.arange(len(indices) * 3, dtype=np.float16).reshape(len(indices), 3)
    return indices, logits


def test_lookup_returns_the_row_of_each_shuffled_index() -> None:
    indices, logits = _cache()
    soft_labels = SoftLabels(indices, logits)
    batch = torch.tensor([99, 2, 40, 7])
    found = soft_labels.lookup(batch)
    expected = np.stack([logits[list(indices).index(i)] for i in batch.tolist()])
    assert found.dtype == torch.float32
    assert np.array_equal(found.numpy(), expected.astype(np.float32))


@pytest.mark.parametrize("batch", [[7, 8, 13, 3], [7, 500, 13, 1000]])
def test_missing_indices_raise_a_key_error_counting_them(batch: list[int]) -> None:
    soft_labels = SoftLabels(*_cache())
    with pytest.raises(KeyError) as raised:
        soft_labels.lookup(torch.tensor(batch))
    assert raised.type is MissingSoftLabelsError
    assert "2 of 4 batch indices" in str(raised.value)


def test_from_cache_reads_one_split_and_names_the_available_ones() -> None:
    indices, logits = _cache()
    cache = {
        "teacher": "t", "num_classes": 3, "split_fingerprint": "abc",
        "mini_train": {"indices": indices, "logits": logits},
    }
    assert len(SoftLabels.from_cache(cache)) == len(indices)
    with pytest.raises(KeyError, match="mini_train"):
        SoftLabels.from_cache(cache, split="mini_val")


def test_duplicate_indices_are_rejected() -> None:
    with pytest.raises(ValueError, match="duplicates"):
        SoftLabels(np.array([1, 1]), np.zeros((2, 3)))
