"""KD loss (Eq. 1), OR penalty (Eq. 4) and OR target selection against hand computations,
and the grouped penalty against the per-matrix definition on real networks."""
from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
import pytest
import timm
import torch
import torch.nn.functional as F
import yaml
from timm.models.vision_transformer import Block
from torch import nn

from trade_pipeline.students.builder import StudentNet
from trade_pipeline.students.space import SearchSpace
from trade_pipeline.training.losses import OrthogonalityPenalty, kd_loss, orthogonality_targets

PAPER_SEARCH = Path(__file__).resolve().parents[2] / "conf" / "paper" / "parameters_search.yml"

STUDENT = torch.tensor([[2.0, 0.0, -1.0], [0.5, 1.5, 0.0]])
TEACHER = torch.tensor([[1.0, 1.0, 0.0], [0.0, 3.0, -2.0]])
TARGETS = torch.tensor([0, 2])


def _softmax(row: list[float], tau: float) -> list[float]:
    exps = [math.exp(z / tau) for z in row]
    return [e / sum(exps) for e in exps]


def _hand_kd(alpha: float, tau: float) -> float:
    cross_entropy = kl = 0.0
    for student, teacher, target in zip(STUDENT.tolist(), TEACHER.tolist(), TARGETS.tolist()):
        cross_entropy -= math.log(_softmax(student, 1.0)[target])
        p_s, p_t = _softmax(student, tau), _softmax(teacher, tau)
        kl += sum(t * math.log(t / s) for t, s in zip(p_t, p_s))
    batch = len(TARGETS)
    return (1 - alpha) * cross_entropy / batch + alpha * tau**2 * kl / batch


@pytest.mark.parametrize("tau", [1.0, 2.0])
def test_kd_loss_matches_hand_computation(tau: float) -> None:
    loss = kd_loss(STUDENT, TARGETS, TEACHER, alpha=0.7, tau=tau)
    assert loss.item() == pytest.approx(_hand_kd(0.7, tau), rel=1e-6)


def test_kd_loss_is_plain_cross_entropy_at_alpha_zero_without_teacher() -> None:
    loss = kd_loss(STUDENT, TARGETS, None, alpha=0.0)
    assert loss.item() == pytest.approx(F.cross_entropy(STUDENT, TARGETS).item(), rel=1e-7)


def test_kd_term_scales_with_tau_squared() -> None:
    # Equal logits scaled by tau give the same softened distributions, so only tau² differs.
    kd_at_1 = kd_loss(STUDENT, TARGETS, TEACHER, alpha=1.0, tau=1.0)
    kd_at_2 = kd_loss(2 * STUDENT, TARGETS, 2 * TEACHER, alpha=1.0, tau=2.0)
    assert kd_at_2.item() == pytest.approx(4 * kd_at_1.item(), rel=1e-6)


def test_kd_loss_without_teacher_logits_raises() -> None:
    with pytest.raises(ValueError, match="teacher_logits"):
        kd_loss(STUDENT, TARGETS, None, alpha=0.5)


def test_or_penalty_is_zero_for_orthogonal_and_semi_orthogonal_weights() -> None:
    generator = torch.Generator().manual_seed(0)
    square, _ = torch.linalg.qr(torch.randn(6, 6, generator=generator))
    tall, _ = torch.linalg.qr(torch.randn(8, 3, generator=generator))  # orthonormal columns
    conv_wide = tall.T.reshape(3, 8, 1, 1)  # orthonormal rows, C_out < C_in
    penalty = OrthogonalityPenalty([square, tall, conv_wide])(lam=1.0)
    assert penalty.item() == pytest.approx(0.0, abs=1e-10)


def test_or_penalty_matches_hand_value_averaged_over_weights() -> None:
    # W = [[1, 1], [0, 1]]: WᵀW = [[1, 1], [1, 2]], WᵀW − I = [[0, 1], [1, 1]], ‖·‖²_F = 3.
    weight = torch.tensor([[1.0, 1.0], [0.0, 1.0]])
    # 1x3 row [1, 2, 2] as a conv (C_out=1 < n=3): WWᵀ − I = [9 − 1], squared = 64.
    conv = torch.tensor([1.0, 2.0, 2.0]).reshape(1, 3, 1, 1)
    penalty = OrthogonalityPenalty([weight, conv])(lam=0.1)
    assert penalty.item() == pytest.approx(0.1 / 2 * (3 + 64))


class _Mixed(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3)
        self.depthwise = nn.Conv2d(8, 8, 1, groups=8)
        self.pointwise = nn.Conv2d(8, 16, 1)
        self.block = Block(dim=16, num_heads=2, mlp_ratio=2.0)
        self.head = nn.Linear(16, 10)


def test_or_targets_default_to_dense_1x1_convs_and_ffn_weights() -> None:
    model = _Mixed()
    selected = {id(weight) for weight in orthogonality_targets(model)}
    expected = {
        id(model.pointwise.weight), id(model.block.mlp.fc1.weight), id(model.block.mlp.fc2.weight)
    }
    assert selected == expected


def test_or_targets_all_convs_and_linears_when_asked() -> None:
    model = _Mixed()
    selected = orthogonality_targets(model, ("conv", "linear", "conv1x1"))
    n_conv, n_linear = 3, 5  # qkv, proj, fc1, fc2, head
    assert len(selected) == n_conv + n_linear == len({id(w) for w in selected})


def test_or_targets_reject_unknown_name() -> None:
    with pytest.raises(ValueError, match="allowed"):
        orthogonality_targets(_Mixed(), ("conv3x3",))


def test_or_penalty_without_weights_raises() -> None:
    with pytest.raises(ValueError, match="no weights"):
        OrthogonalityPenalty([])


def _per_matrix_penalty(weights: list[torch.Tensor], lam: float) -> torch.Tensor:
    """Eq. 4 one weight at a time: the definition the grouped penalty must reproduce."""
    total = 0.0
    for weight in weights:
        matrix = weight.reshape(weight.shape[0], -1)
        gram = matrix.T @ matrix if matrix.shape[0] >= matrix.shape[1] else matrix @ matrix.T
        total = total + (gram - torch.eye(gram.shape[0])).square().sum()
    return lam / len(weights) * total


@functools.cache
def _paper_student() -> nn.Module:
    """The middle of the paper's space (MB x 8 + T(x6), 20.8 M params) at 32x32, built once: the
    cases only read its weights."""
    space = SearchSpace.from_config(yaml.safe_load(PAPER_SEARCH.read_text())["search"]["space"])
    space = space.at_resolution(32)
    return StudentNet(space.decode(np.full(space.dimension, 0.5)), in_chans=3, num_classes=10, img_size=32)


@functools.cache
def _vit() -> nn.Module:
    return timm.create_model("vit_tiny_patch16_224", img_size=32, num_classes=10)


@pytest.mark.parametrize("batched", [True, False], ids=["batched", "per_weight"])
@pytest.mark.parametrize("build", [_paper_student, _vit], ids=["paper_student", "vit_tiny"])
@pytest.mark.parametrize("targets", [("conv1x1", "ffn"), ("conv", "linear")], ids=["paper", "ablation"])
def test_grouped_or_penalty_equals_the_per_matrix_sum_in_value_and_gradient(build, targets, batched) -> None:
    torch.manual_seed(0)
    model = build()
    weights = orthogonality_targets(model, targets)
    penalty = OrthogonalityPenalty(weights, batched=batched)
    assert len(penalty.groups) < len(weights)  # shapes repeat, so there is something to batch

    grouped = penalty(lam=1e-3)
    grouped_grads = torch.autograd.grad(grouped, weights)
    reference = _per_matrix_penalty(weights, lam=1e-3)
    reference_grads = torch.autograd.grad(reference, weights)

    torch.testing.assert_close(grouped, reference, rtol=1e-6, atol=0.0)
    for mine, theirs in zip(grouped_grads, reference_grads):
        torch.testing.assert_close(mine, theirs, rtol=1e-5, atol=1e-9)
