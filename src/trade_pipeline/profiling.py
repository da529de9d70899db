"""Cost of a network before it is trained: parameters, MACs and latency (DESIGN §6).

The search rejects over-budget candidates on these numbers, so all three must be cheap
(well under a second per embedded-space candidate on a CPU) and comparable across
candidates and teachers.

MACs follow the timm / EfficientNet convention, which is what the paper calls FLOPS: one
multiply-add counts once, and only the layers that dominate the cost are counted —
convolutions, linear layers (per token for Transformer inputs) and the two attention
matmuls (``q @ kᵀ`` and ``attn @ v``). Biases, normalisation, activations, pooling,
squeeze-excite gating multiplies and residual adds are ignored; together they are a small
fraction and are ignored by the published figures we compare with (timm's ResNet-18 =
1.82 GMACs at 224x224).
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from pydantic import Field, field_validator
from timm.layers import Attention, AttentionRope
from torch import nn

from trade_pipeline.config import StrictModel, check_device

InputShape = tuple[int, int, int, int]


class ProfileSettings(StrictModel):
    """How latency is measured: the median of ``repeats`` batch-1 forwards after ``warmup``.

    Eq. 2 divides a student's latency by the teacher's, so the teacher and the candidates
    must be measured alike. ``device`` is where the student will be deployed; ``None`` means
    the device the stage runs on (a search worker's own GPU, the teacher's device).
    """

    device: str | None = None
    warmup: int = Field(default=3, ge=0)
    repeats: int = Field(default=10, ge=1)

    @field_validator("device")
    @classmethod
    def _device_exists(cls, device: str | None) -> str | None:
        return device if device is None else check_device(device)

    def on(self, default_device: str) -> str:
        """The device to profile on when the stage itself runs on ``default_device``."""
        return self.device or default_device

# timm's Transformer attention modules; they may call F.scaled_dot_product_attention,
# so the matmuls are counted from the module's input shape instead of hooked directly.
_ATTENTION_MODULES = (Attention, AttentionRope)


def count_params(model: nn.Module) -> int:
    """Number of parameters (trainable or not), the paper's NP."""
    return sum(parameter.numel() for parameter in model.parameters())


def _conv_macs(module: nn.modules.conv._ConvNd, output: torch.Tensor) -> int:
    # Every output element sums (C_in / groups) * prod(kernel) products; covers depthwise.
    per_output = module.in_channels // module.groups * math.prod(module.kernel_size)
    return output.numel() * per_output


def _linear_macs(module: nn.Linear, output: torch.Tensor) -> int:
    # output.numel() = tokens * out_features, so this is tokens * in * out for any rank.
    return output.numel() * module.in_features


def _attention_macs(module: nn.Module, tokens: torch.Tensor) -> int:
    # q @ kᵀ and attn @ v: 2 * heads * N * N * head_dim per sample; tokens is B x N x C.
    batch, n_tokens = tokens.shape[0], tokens.shape[1]
    return 2 * batch * module.num_heads * n_tokens * n_tokens * module.head_dim


@contextmanager
def _eval_no_grad(model: nn.Module) -> Iterator[None]:
    """Eval mode without autograd, restoring the caller's train/eval mode afterwards."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


def _model_device(model: nn.Module) -> torch.device:
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def _check_input_shape(input_shape: tuple[int, ...]) -> None:
    if len(input_shape) != 4 or any(size < 1 for size in input_shape):
        raise ValueError(
            f"input_shape must be (batch, channels, height, width) with positive sizes, "
            f"got {input_shape!r}; pass e.g. (1, 3, 224, 224)"
        )


def count_macs(model: nn.Module, input_shape: InputShape = (1, 3, 224, 224)) -> int:
    """Multiply-adds of one forward pass on a zero tensor of ``input_shape``.

    With the default batch of 1 this is the per-image figure timm and the paper report.
    Counted with forward hooks, so any architecture built from standard modules is covered
    without tracing; see the module docstring for what is counted.
    """
    _check_input_shape(input_shape)
    total = 0

    def conv_hook(module: nn.Module, _inputs: tuple, output: torch.Tensor) -> None:
        nonlocal total
        total += _conv_macs(module, output)

    def linear_hook(module: nn.Module, _inputs: tuple, output: torch.Tensor) -> None:
        nonlocal total
        total += _linear_macs(module, output)

    def attention_hook(module: nn.Module, inputs: tuple, _output: torch.Tensor) -> None:
        nonlocal total
        total += _attention_macs(module, inputs[0])

    handles = []
    for module in model.modules():
        if isinstance(module, nn.modules.conv._ConvNd):
            handles.append(module.register_forward_hook(conv_hook))
        elif isinstance(module, nn.Linear):
            handles.append(module.register_forward_hook(linear_hook))
        elif isinstance(module, _ATTENTION_MODULES):
            handles.append(module.register_forward_hook(attention_hook))
    try:
        with _eval_no_grad(model):
            model(torch.zeros(input_shape, device=_model_device(model)))
    finally:
        for handle in handles:
            handle.remove()
    return total


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_latency(
    model: nn.Module,
    input_shape: InputShape = (1, 3, 224, 224),
    device: str | torch.device = "cpu",
    warmup: int = 3,
    repeats: int = 10,
) -> float:
    """Median wall time in milliseconds of one forward pass, after ``warmup`` passes.

    The median, not the mean, so one scheduler hiccup on a shared machine does not move a
    candidate's score. On CUDA every timed call is bracketed by synchronisation, otherwise
    only the kernel launch would be timed. The model is moved to ``device``.
    """
    _check_input_shape(input_shape)
    if warmup < 0 or repeats < 1:
        raise ValueError(
            f"need warmup >= 0 and repeats >= 1, got warmup={warmup}, repeats={repeats}"
        )
    device = torch.device(device)
    model.to(device)
    inputs = torch.randn(input_shape, device=device)
    timings_ms = []
    with _eval_no_grad(model):
        for _ in range(warmup):
            model(inputs)
        for _ in range(repeats):
            _synchronize(device)
            start = time.perf_counter()
            model(inputs)
            _synchronize(device)
            timings_ms.append((time.perf_counter() - start) * 1e3)
    return statistics.median(timings_ms)


def profile_model(
    model: nn.Module,
    input_shape: InputShape = (1, 3, 224, 224),
    settings: ProfileSettings | None = None,
    device: str | torch.device = "cpu",
) -> dict[str, float | int]:
    """Parameters, MACs and batch-1 latency of ``model``: ``{params, macs, latency_ms}``.

    Latency is measured at batch 1 whatever the batch of ``input_shape`` (the paper's
    deployment setting) on ``settings.device`` or else ``device``; MACs are reported per image.
    """
    _check_input_shape(input_shape)
    settings = settings or ProfileSettings()
    single_image = (1, *input_shape[1:])
    latency_ms = measure_latency(model, single_image, settings.on(str(device)), settings.warmup, settings.repeats)
    return {
        "params": count_params(model),
        "macs": count_macs(model, single_image),
        "latency_ms": latency_ms,
    }
