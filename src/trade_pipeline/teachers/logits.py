"""The soft-label cache: the search teacher's logits on mini-train and mini-val.

Computed once, so every proxy KD step looks its soft labels up instead of running the
teacher (docs/contracts.md gives the format). Rows follow the split's index order and carry
the source indices, so ``SoftLabels`` finds a sample's row whatever order a loader yields.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
from torch import nn

from trade_pipeline.contracts import TeacherLogits
from trade_pipeline.data.loaders import make_loader
from trade_pipeline.data.split import Split
from trade_pipeline.teachers.sources import TeacherError

CACHED_PARTS = ("mini_train", "mini_val")


def predict_logits(
    model: nn.Module, loader: Iterable[tuple[torch.Tensor, ...]], device: str = "cpu"
) -> tuple[np.ndarray, np.ndarray]:
    """Eval-mode logits of batches ``(images, labels, indices)``: indices int64 ``N``, logits float32 ``N x K``."""
    model.eval().to(device)
    indices, logits = [], []
    with torch.no_grad():
        for images, _labels, batch_indices in loader:
            logits.append(model(images.to(device)).float().cpu())
            indices.append(batch_indices.cpu())
    return torch.cat(indices).numpy().astype(np.int64), torch.cat(logits).numpy()


def logit_cache(
    teacher: str, model: nn.Module, split: Split, batch_size: int = 256, device: str = "cpu"
) -> TeacherLogits:
    """``teacher_logits``: ``{teacher, num_classes, split_fingerprint, mini_train, mini_val}``.

    Each part is ``{"indices": int64 N, "logits": float16 N x K}``; float16 halves the cache
    and is far finer than the differences KD at τ=1 responds to.
    """
    cache: dict[str, Any] = {
        "teacher": teacher,
        "num_classes": split.num_classes,
        "split_fingerprint": split.fingerprint,
    }
    for part in CACHED_PARTS:
        indices, logits = predict_logits(model, make_loader(split, part, batch_size), device)
        if not np.array_equal(indices, split.indices(part)):
            raise TeacherError(f"the {part} loader did not yield the split's indices in order; rebuild the split")
        largest = np.abs(logits).max()
        if not largest <= np.finfo(np.float16).max:  # also catches NaN
            raise TeacherError(
                f"teacher '{teacher}' gives non-finite or float16-overflowing logits (max |logit| "
                f"{largest:.3g}) on {part}; check the teacher's weights"
            )
        cache[part] = {"indices": indices, "logits": logits.astype(np.float16)}
    return cache
