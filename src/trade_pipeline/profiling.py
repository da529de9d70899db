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

Latency is measured one of two ways (``ProfileSettings.latency_method``): ``eager`` times
synchronised eager forwards with the host clock, so on a GPU it includes Python dispatch and
kernel launches, which for small batch-1 models dominate (6-10x the GPU time on an H100,
bimodal within a run, issue #13); ``cuda_graph`` captures one forward as a CUDA graph, replays
it and times the replays with CUDA events: the GPU's own time for the model.
"""

from __future__ import annotations

import logging
import math
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import torch
from pydantic import Field, field_validator
from timm.layers import Attention, AttentionRope
from torch import nn

from trade_pipeline.config import StrictModel, check_device

logger = logging.getLogger(__name__)

InputShape = tuple[int, int, int, int]
LatencyMethod = Literal["eager", "cuda_graph", "auto"]


class ProfileSettings(StrictModel):
    """How latency is measured: the median of ``repeats`` batch-1 forwards after ``warmup``.

    Eq. 2 divides a student's latency by the teacher's, so the teacher and the candidates
    must be measured alike. ``device`` is where the student will be deployed; ``None`` means
    the device the stage runs on (a search worker's own GPU, the teacher's device).
    ``latency_method``: ``auto`` is ``cuda_graph`` on CUDA and ``eager`` elsewhere (see the
    module docstring); a graph that cannot be captured falls back to ``eager`` with a warning.
    """

    device: str | None = None
    warmup: int = Field(default=3, ge=0)
    repeats: int = Field(default=10, ge=1)
    latency_method: LatencyMethod = "auto"

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


@dataclass(frozen=True)
class LatencyReading:
    """A batch-1 latency: the median over the repeats, their coefficient of variation
    (standard deviation / mean, 0.05 = 5 %) and the method that actually measured them."""

    median_ms: float
    cv: float
    method: str


def _eager_timings(model: nn.Module, inputs: torch.Tensor, warmup: int, repeats: int) -> list[float]:
    """Host wall time of each eager forward; on CUDA each is bracketed by synchronisation,
    otherwise only the kernel launches would be timed."""
    def synchronize() -> None:
        if inputs.device.type == "cuda":
            torch.cuda.synchronize(inputs.device)

    for _ in range(warmup):
        model(inputs)
    timings_ms = []
    for _ in range(repeats):
        synchronize()
        start = time.perf_counter()
        model(inputs)
        synchronize()
        timings_ms.append((time.perf_counter() - start) * 1e3)
    return timings_ms


def _cuda_graph_timings(model: nn.Module, inputs: torch.Tensor, warmup: int, repeats: int) -> list[float]:
    """GPU time of each replay of a captured forward, from CUDA events.

    Replays are queued back to back and read after one synchronisation, so the host never
    sits between the events. Warm-up runs on a side stream first, as capture requires
    (cuDNN picks its kernels and the allocator its blocks outside the graph).
    """
    device = inputs.device
    side = torch.cuda.Stream(device)
    side.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(side):
        for _ in range(max(warmup, 1)):
            model(inputs)
    torch.cuda.current_stream(device).wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        model(inputs)
    for _ in range(warmup):
        graph.replay()
    events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(repeats)]
    for start, end in events:
        start.record()
        graph.replay()
        end.record()
    torch.cuda.synchronize(device)
    return [start.elapsed_time(end) for start, end in events]


def resolve_method(method: LatencyMethod, device: str | torch.device) -> str:
    """The method that will measure on ``device``: ``auto`` and ``cuda_graph`` off CUDA resolve."""
    on_cuda = torch.device(device).type == "cuda"
    if method == "auto":
        return "cuda_graph" if on_cuda else "eager"
    return method if on_cuda or method == "eager" else "eager"


def _resolved_method(method: LatencyMethod, device: torch.device) -> str:
    if method == "cuda_graph" and device.type != "cuda":
        logger.warning("latency_method=cuda_graph needs a CUDA device, not '%s'; measuring eager instead.", device)
    return resolve_method(method, device)


def measure_latency(
    model: nn.Module,
    input_shape: InputShape = (1, 3, 224, 224),
    device: str | torch.device = "cpu",
    warmup: int = 3,
    repeats: int = 10,
    method: LatencyMethod = "auto",
) -> LatencyReading:
    """Median and spread in milliseconds of one forward pass, after ``warmup`` passes.

    The median, not the mean, so one scheduler hiccup on a shared machine does not move a
    candidate's score. ``method`` as in ``ProfileSettings.latency_method``; a CUDA graph that
    cannot be captured (host syncs or dynamic shapes in ``forward``) is measured eagerly, with
    the reason logged. The model is moved to ``device``.
    """
    _check_input_shape(input_shape)
    if warmup < 0 or repeats < 1:
        raise ValueError(
            f"need warmup >= 0 and repeats >= 1, got warmup={warmup}, repeats={repeats}"
        )
    device = torch.device(device)
    model.to(device)
    inputs = torch.randn(input_shape, device=device)
    method = _resolved_method(method, device)
    timings_ms = None
    with _eval_no_grad(model):
        if method == "cuda_graph":
            try:
                timings_ms = _cuda_graph_timings(model, inputs, warmup, repeats)
            except RuntimeError as error:  # capture refuses host syncs, CPU tensors, ...
                logger.warning("CUDA graph capture of %s failed (%s); measuring eager instead.",
                               type(model).__name__, str(error).strip().split("\n", 1)[0][:200])
                method = "eager"
        if timings_ms is None:
            timings_ms = _eager_timings(model, inputs, warmup, repeats)
    mean = statistics.fmean(timings_ms)
    cv = statistics.pstdev(timings_ms) / mean if mean > 0 else 0.0
    return LatencyReading(statistics.median(timings_ms), cv, method)


def profile_model(
    model: nn.Module,
    input_shape: InputShape = (1, 3, 224, 224),
    settings: ProfileSettings | None = None,
    device: str | torch.device = "cpu",
) -> dict[str, float | int | str]:
    """Parameters, MACs and batch-1 latency of ``model``:
    ``{params, macs, latency_ms, latency_cv, latency_method}``.

    Latency is measured at batch 1 whatever the batch of ``input_shape`` (the paper's
    deployment setting) on ``settings.device`` or else ``device``; MACs are reported per image.
    ``latency_cv`` is the spread of the timed repeats around ``latency_ms`` (their median);
    ``latency_method`` the method that measured them, after any fallback.
    """
    _check_input_shape(input_shape)
    settings = settings or ProfileSettings()
    single_image = (1, *input_shape[1:])
    latency = measure_latency(model, single_image, settings.on(str(device)), settings.warmup, settings.repeats,
                              settings.latency_method)
    return {
        "params": count_params(model),
        "macs": count_macs(model, single_image),
        "latency_ms": latency.median_ms,
        "latency_cv": latency.cv,
        "latency_method": latency.method,
    }
