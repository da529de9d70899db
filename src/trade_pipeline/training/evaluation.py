"""Top-1 and top-5 accuracy of a model on a loader: the one evaluation every stage reports."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import nn


def evaluate(
    model: nn.Module,
    loader: Iterable[Sequence[torch.Tensor]],
    device: str | torch.device = "cpu",
    amp: bool = False,
) -> tuple[float, float]:
    """Top-1 and top-k accuracy in percent, k = min(5, classes); batches start (images, labels)."""
    device = torch.device(device)
    model.eval()
    correct_top1 = torch.zeros((), dtype=torch.int64, device=device)
    correct_topk = torch.zeros((), dtype=torch.int64, device=device)
    seen = 0
    with torch.no_grad(), torch.autocast(device.type, enabled=amp and device.type == "cuda"):
        for batch in loader:
            images = batch[0].to(device, non_blocking=True)
            labels = batch[1].to(device, non_blocking=True)
            logits = model(images)
            ranked = logits.topk(min(5, logits.shape[1]), dim=1).indices
            hits = ranked == labels[:, None]
            correct_top1 += hits[:, 0].sum()
            correct_topk += hits.any(dim=1).sum()
            seen += len(labels)
    if seen == 0:
        raise ValueError("the evaluation loader yielded no samples; check the split")
    return 100.0 * correct_top1.item() / seen, 100.0 * correct_topk.item() / seen
