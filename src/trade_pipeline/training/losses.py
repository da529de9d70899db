"""Training objective: the KD loss (Eq. 1) and orthogonality regularisation (Eq. 4)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import get_args

import torch
import torch.nn.functional as F
from timm.layers import Mlp
from torch import nn

from trade_pipeline.training.recipe import OrTarget

# On 3x3 convolutions and fully-connected layers OR hinders learning spatial filters (§3),
# hence the default conv1x1 + ffn; "conv" and "linear" exist for ablations.
OR_TARGETS: tuple[str, ...] = get_args(OrTarget)


def kd_loss(
    student_logits: torch.Tensor,
    targets: torch.Tensor,
    teacher_logits: torch.Tensor | None = None,
    alpha: float = 0.7,
    tau: float = 1.0,
    label_smoothing: float = 0.0,
) -> torch.Tensor:
    """``(1-α)·CE + α·τ²·KL(p_t(τ) ‖ p_s(τ))`` averaged over the batch (Eq. 1).

    Logits are ``B x K``, targets ``B`` class ids. The KL divergence is summed over classes
    and averaged over samples ("batchmean"), the true per-sample KL of Eq. 1; the τ² factor
    keeps the soft-target gradients on the scale of the CE gradients (Hinton et al.).
    ``alpha=0`` is hard-label training and needs no teacher logits.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    if tau <= 0.0:
        raise ValueError(f"tau must be positive, got {tau}")
    cross_entropy = F.cross_entropy(student_logits, targets, label_smoothing=label_smoothing)
    if alpha == 0.0:
        return cross_entropy
    if teacher_logits is None:
        raise ValueError(
            f"alpha={alpha} needs teacher_logits; pass the teacher's logits or set alpha=0"
        )
    distillation = F.kl_div(
        F.log_softmax(student_logits / tau, dim=-1),
        F.log_softmax(teacher_logits / tau, dim=-1),
        log_target=True,
        reduction="batchmean",
    )
    return (1.0 - alpha) * cross_entropy + alpha * tau**2 * distillation  # Eq. 1


class OrthogonalityPenalty:
    """``λ/|W| Σ_W ‖Gram(W) − I‖²_F`` over a fixed set of weights (Eq. 4), built once per model.

    Each weight is reshaped to ``m = C_out`` x ``n = S·H·C_in``. Eq. 4 writes ``WᵀW − I_n``,
    which can only reach zero when ``m >= n``; for reducing layers (``m < n``, e.g. an MBConv
    projection) the Gram matrix of the smaller side, ``WWᵀ − I_m``, is used instead: the
    semi-orthogonality of Eq. 3, and the cheaper product too.

    Weights of one reshaped shape form a group. On a GPU a group is stacked to ``G x m x n``
    and multiplied with one batched matmul: a student has 10-190 such weights but far fewer
    shapes, and one launch per weight made a step host-bound. On a CPU the products
    are compute-bound and a plain matmul per weight was faster than the batched one, so there
    the group is walked weight by weight (``batched=None``; True/False force either way).
    Gradients reach the original parameters either way.
    """

    def __init__(self, weights: Sequence[torch.Tensor], batched: bool | None = None) -> None:
        if not weights:
            raise ValueError(
                "OrthogonalityPenalty got no weights; select some with orthogonality_targets "
                "or skip the penalty"
            )
        groups: dict[tuple[int, int], list[torch.Tensor]] = {}
        for weight in weights:
            groups.setdefault((weight.shape[0], weight[0].numel()), []).append(weight)
        self.groups = list(groups.items())
        self.num_weights = len(weights)
        self.batched = batched
        self._identities: dict[tuple[int, torch.device, torch.dtype], torch.Tensor] = {}

    def _gap(self, matrices: torch.Tensor) -> torch.Tensor:
        """``Σ ‖Gram − I‖²_F`` over ``m x n`` or ``G x m x n`` matrices."""
        rows, cols = matrices.shape[-2:]
        gram = matrices.mT @ matrices if rows >= cols else matrices @ matrices.mT
        key = (gram.shape[-1], gram.device, gram.dtype)
        if key not in self._identities:
            self._identities[key] = torch.eye(key[0], device=key[1], dtype=key[2])
        return (gram - self._identities[key]).square().sum()

    def __call__(self, lam: float) -> torch.Tensor:
        """The penalty as a scalar tensor (Eq. 4); call it outside autocast to keep float32."""
        gaps = []
        for (rows, cols), weights in self.groups:
            matrices = [weight.reshape(rows, cols) for weight in weights]
            if self.batched or (self.batched is None and weights[0].device.type == "cuda"):
                matrices = [torch.stack(matrices)]  # G x m x n: one launch per group
            gaps.extend(self._gap(matrix) for matrix in matrices)
        return lam / self.num_weights * torch.stack(gaps).sum()  # Eq. 4


def _is_conv1x1(module: nn.Module) -> bool:
    return (
        isinstance(module, nn.Conv2d)
        and module.kernel_size == (1, 1)
        and module.groups == 1
    )


def _selected_weights(module: nn.Module, targets: Iterable[str]) -> list[nn.Parameter]:
    if isinstance(module, Mlp) and "ffn" in targets:
        return [module.fc1.weight, module.fc2.weight]
    if isinstance(module, nn.Conv2d) and (
        "conv" in targets or ("conv1x1" in targets and _is_conv1x1(module))
    ):
        return [module.weight]
    if isinstance(module, nn.Linear) and "linear" in targets:
        return [module.weight]
    return []


def check_or_targets(targets: Iterable[str]) -> tuple[str, ...]:
    """Validate OR target names early, returning them as a tuple."""
    targets = tuple(targets)
    unknown = [name for name in targets if name not in OR_TARGETS]
    if unknown:
        raise ValueError(f"unknown OR targets {unknown}; allowed: {list(OR_TARGETS)}")
    return targets


def orthogonality_targets(
    model: nn.Module, targets: Iterable[str] = ("conv1x1", "ffn")
) -> list[nn.Parameter]:
    """The weights Eq. 4 regularises, each once, in module order.

    ``conv1x1``: dense 1x1 convolutions (kernel 1x1, groups 1; not depthwise).
    ``ffn``: ``fc1``/``fc2`` of timm's Transformer ``Mlp``.
    ``conv`` / ``linear``: every Conv2d / every Linear (including the head and attention).
    """
    targets = check_or_targets(targets)
    selected: dict[int, nn.Parameter] = {}
    for module in model.modules():
        for weight in _selected_weights(module, targets):
            selected.setdefault(id(weight), weight)
    return list(selected.values())
