"""How alike teachers predict (paper App. B, Fig. 5): top-1 matching ratio and KL(p‖q).

Entry (i, j) compares row model i with column model j on the same images:
``top1_match`` is the share of images where their argmax agrees, ``kl`` is the mean over
images of KL(p_i ‖ p_j) with softmax at τ=1 (not symmetric). The sums are accumulated batch
by batch, so the train-set matrices never hold every teacher's logits at once.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from trade_pipeline.data.loaders import make_loader
from trade_pipeline.data.split import Split

# Fig. 5 compares on the training images (what KD matches) and on the test images.
COMPARED_PARTS = {"train": "mini_train", "test": "test"}


class PairwiseAgreement:
    """Running sums of top-1 matches and KL(p_i‖p_j) over batches of ``n_models`` logits."""

    def __init__(self, n_models: int) -> None:
        self.matches = torch.zeros(n_models, n_models, dtype=torch.float64)
        self.kl_sum = torch.zeros(n_models, n_models, dtype=torch.float64)
        self.samples = 0

    def update(self, batch_logits: Sequence[torch.Tensor | np.ndarray]) -> None:
        """Adds one batch: a ``B x K`` logit array per model, rows aligned on the same images."""
        logits = torch.stack([torch.as_tensor(x) for x in batch_logits])
        if logits.ndim != 3 or logits.shape[0] != len(self.matches):
            raise ValueError(
                f"expected {len(self.matches)} logit arrays of shape B x K, got a stack of shape {tuple(logits.shape)}"
            )
        log_p = F.log_softmax(logits.to(torch.float64), dim=-1)  # models x B x K, τ=1
        p = log_p.exp()
        # KL(p_i‖p_j) summed over images = Σ p_i log p_i − Σ p_i log p_j
        neg_entropy = (p * log_p).sum(dim=(1, 2))
        self.kl_sum += neg_entropy[:, None] - torch.einsum("ibk,jbk->ij", p, log_p)
        top1 = logits.argmax(dim=-1)  # models x B
        self.matches += (top1[:, None, :] == top1[None, :, :]).sum(dim=-1)
        self.samples += logits.shape[1]

    def result(self) -> dict[str, Any]:
        """``{top1_match, kl, samples}``; matrices as nested lists, row model i, column model j."""
        if self.samples == 0:
            raise ValueError("no samples were compared; the split part is empty")
        kl = (self.kl_sum / self.samples).clamp_min(0.0)  # rounding can leave the diagonal at -1e-17
        return {
            "top1_match": (self.matches / self.samples).tolist(),
            "kl": kl.tolist(),
            "samples": self.samples,
        }


def compare_models(
    models: Mapping[str, nn.Module], split: Split, batch_size: int = 256, device: str = "cpu"
) -> dict[str, Any]:
    """``{teachers, train, test}``: Fig. 5's matrices on mini-train and test for ``models``."""
    for model in models.values():
        model.eval().to(device)
    similarity: dict[str, Any] = {"teachers": list(models)}
    for key, part in COMPARED_PARTS.items():
        agreement = PairwiseAgreement(len(models))
        with torch.no_grad():
            for images, _labels, _indices in make_loader(split, part, batch_size):
                images = images.to(device)
                agreement.update([model(images).float().cpu() for model in models.values()])
        similarity[key] = agreement.result()
    return similarity
