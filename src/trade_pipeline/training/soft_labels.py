"""Cached teacher logits looked up by sample index (docs/contracts.md).

Distilling from a cache instead of running the teacher makes a proxy KD step cost about
as much as a hard-label step; that only holds if the lookup is one gather, so the
index -> row map is built once as a dense tensor.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch


class MissingSoftLabelsError(KeyError):
    """A batch asked for samples the teacher-logit cache does not hold."""

    def __str__(self) -> str:  # KeyError would print the message with quotes
        return str(self.args[0])


class SoftLabels:
    """Teacher logits for one split, ``lookup(indices) -> float32 B x K`` in O(batch).

    ``indices`` (int64, ``N``) are source-dataset indices as the loaders yield them;
    ``logits`` (``N x K``, any float dtype, e.g. the cache's float16) are stored once as
    float32 so the lookup does no per-step conversion.
    """

    def __init__(self, indices: np.ndarray, logits: np.ndarray) -> None:
        indices = torch.as_tensor(np.asarray(indices), dtype=torch.int64)
        logits = torch.as_tensor(np.asarray(logits)).float()
        if indices.ndim != 1 or logits.ndim != 2 or len(indices) != len(logits):
            raise ValueError(
                f"need indices of shape (N,) and logits of shape (N, K), got "
                f"{tuple(indices.shape)} and {tuple(logits.shape)}"
            )
        if len(indices) == 0:
            raise ValueError("the soft-label cache is empty; rebuild the teacher logits")
        if indices.min() < 0:
            raise ValueError("soft-label indices must be non-negative dataset indices")
        if len(torch.unique(indices)) != len(indices):
            raise ValueError("soft-label indices contain duplicates; rebuild the cache")
        self.logits = logits
        # Dense map: source index -> row in `logits`, -1 where the cache has no entry.
        self._rows = torch.full((int(indices.max()) + 1,), -1, dtype=torch.int64)
        self._rows[indices] = torch.arange(len(indices))

    @classmethod
    def from_cache(
        cls, teacher_logits: Mapping[str, Any], split: str = "mini_train"
    ) -> SoftLabels:
        """One split of the ``teacher_logits`` catalog dict (see docs/contracts.md)."""
        entry = teacher_logits.get(split)
        if not isinstance(entry, Mapping) or not {"indices", "logits"} <= entry.keys():
            available = [
                key for key, value in teacher_logits.items() if isinstance(value, Mapping)
            ]
            raise KeyError(
                f"teacher_logits has no split {split!r} with 'indices' and 'logits'; "
                f"available splits: {available}"
            )
        return cls(entry["indices"], entry["logits"])

    @property
    def num_classes(self) -> int:
        return self.logits.shape[1]

    def __len__(self) -> int:
        return len(self.logits)

    def lookup(self, batch_indices: torch.Tensor) -> torch.Tensor:
        """Teacher logits (float32, ``B x K``) for a CPU int64 batch of source indices."""
        try:
            rows = self._rows[batch_indices]
        except IndexError:  # an index beyond the largest cached one
            raise self._missing(batch_indices) from None
        if bool((rows < 0).any()):
            raise self._missing(batch_indices)
        return self.logits[rows]

    def _missing(self, batch_indices: torch.Tensor) -> MissingSoftLabelsError:
        in_range = (batch_indices >= 0) & (batch_indices < len(self._rows))
        cached = in_range.clone()
        cached[in_range] = self._rows[batch_indices[in_range]] >= 0
        missing = batch_indices[~cached]
        return MissingSoftLabelsError(
            f"{len(missing)} of {len(batch_indices)} batch indices have no cached teacher "
            f"logits (first: {missing[:5].tolist()}); the cache was built for another "
            f"split or dataset, rebuild teacher_logits for this split"
        )
