"""Cost of a network before it is trained: parameters, MACs and latency.

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
bimodal within a run); ``cuda_graph`` captures one forward as a CUDA graph, replays
it and times the replays with CUDA events: the GPU's own time for the model.
"""

from __future__ import annotations

import logging
import math
import statistics
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import torch
from pydantic import Field, field_validator
from timm.layers import Attention, AttentionRope
from torch import nn

from trade_pipeline.config import StrictModel, check_device
from trade_pipeline.errors import InputError

logger = logging.getLogger(__name__)

InputShape = tuple[int, int, int, int]
LatencyMethod = Literal["eager", "cuda_graph", "auto"]


class ProfileSettings(StrictModel):
    """How latency is measured: ``rounds`` rounds of ``repeats`` batch-1 forwards after
    ``warmup``; the reading is the median over rounds of each round's fastest forward, or,
    timed against a reference model (the search times candidates against its teacher), the
    median ratio of ``rounds x repeats`` forward pairs times the reference's latency.

    Eq. 2 divides a student's latency by the teacher's, so the teacher and the candidates
    must be measured alike. ``device`` is where the student will be deployed; ``None`` means
    the device the stage runs on (a search worker's own GPU, the teacher's device).
    ``latency_method``: ``auto`` is ``cuda_graph`` on CUDA and ``eager`` elsewhere (see the
    module docstring); a graph that cannot be captured falls back to ``eager`` with a warning.
    """

    device: str | None = None
    warmup: int = Field(default=3, ge=0)
    repeats: int = Field(default=10, ge=1)
    rounds: int = Field(default=5, ge=1)
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
    """A batch-1 latency, its spread (coefficient of variation, 0.05 = 5 %) and the method that
    actually measured it. Unpaired (:func:`measure_latencies`): the median over rounds of each
    round's fastest forward, the spread of every timed forward. Paired with a reference
    (:func:`measure_relative_latencies`): the median pair ratio times the reference's latency,
    the spread of the ratios."""

    median_ms: float
    cv: float
    method: str


def latency_statistic(rounds_ms: Sequence[Sequence[float]]) -> float:
    """Median over rounds of each round's minimum.

    On a shared CPU a forward is only ever slowed down, never sped up, so a round's fastest
    forward is its best estimate of the model's own cost; the median over rounds then ignores
    a round that the machine slowed down as a whole (docs/benchmarks.md, "Latency stability").
    """
    if not rounds_ms or not all(rounds_ms):
        raise ValueError("latency_statistic needs at least one round of at least one timing")
    return statistics.median(min(timings) for timings in rounds_ms)


class _EagerTimer:
    """Host wall time of eager forwards; on CUDA each is bracketed by synchronisation,
    otherwise only the kernel launches would be timed."""

    method = "eager"

    def __init__(self, model: nn.Module, inputs: torch.Tensor, warmup: int) -> None:
        self.model, self.inputs = model, inputs
        for _ in range(warmup):
            model(inputs)

    def _synchronize(self) -> None:
        if self.inputs.device.type == "cuda":
            torch.cuda.synchronize(self.inputs.device)

    def time(self, repeats: int) -> list[float]:
        timings_ms = []
        for _ in range(repeats):
            self._synchronize()
            start = time.perf_counter()
            self.model(self.inputs)
            self._synchronize()
            timings_ms.append((time.perf_counter() - start) * 1e3)
        return timings_ms


class _CudaGraphTimer:
    """GPU time of each replay of a captured forward, from CUDA events.

    Replays are queued back to back and read after one synchronisation, so the host never
    sits between the events. Warm-up runs on a side stream first, as capture requires
    (cuDNN picks its kernels and the allocator its blocks outside the graph).
    """

    method = "cuda_graph"

    def __init__(self, model: nn.Module, inputs: torch.Tensor, warmup: int) -> None:
        self.device = inputs.device
        side = torch.cuda.Stream(self.device)
        side.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(side):
            for _ in range(max(warmup, 1)):
                model(inputs)
        torch.cuda.current_stream(self.device).wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            model(inputs)
        for _ in range(warmup):
            self.graph.replay()

    def time(self, repeats: int) -> list[float]:
        events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(repeats)]
        for start, end in events:
            start.record()
            self.graph.replay()
            end.record()
        torch.cuda.synchronize(self.device)
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


def _timer(model: nn.Module, inputs: torch.Tensor, warmup: int, method: str) -> _EagerTimer | _CudaGraphTimer:
    """A warmed-up timer for ``model``; a CUDA graph that cannot be captured (host syncs or
    dynamic shapes in ``forward``) falls back to eager timing, with the reason logged."""
    if method == "cuda_graph":
        try:
            return _CudaGraphTimer(model, inputs, warmup)
        except RuntimeError as error:  # capture refuses host syncs, CPU tensors, ...
            logger.warning("CUDA graph capture of %s failed (%s); measuring eager instead.",
                           type(model).__name__, str(error).strip().split("\n", 1)[0][:200])
    return _EagerTimer(model, inputs, warmup)


def measure_latencies(
    models: Sequence[nn.Module],
    input_shape: InputShape = (1, 3, 224, 224),
    device: str | torch.device = "cpu",
    warmup: int = 3,
    repeats: int = 10,
    method: LatencyMethod = "auto",
    rounds: int = 1,
) -> list[LatencyReading]:
    """One reading per model, their rounds interleaved (A B C A B C ...).

    Each round times ``repeats`` forwards of every model in turn, so a slow spell of a shared
    machine falls on all of them alike and their order holds; the reading is
    :func:`latency_statistic` of the rounds. ``method`` as in ``ProfileSettings.latency_method``.
    The models are moved to ``device``.
    """
    _check_input_shape(input_shape)
    if warmup < 0 or repeats < 1 or rounds < 1:
        raise ValueError(
            f"need warmup >= 0, repeats >= 1 and rounds >= 1, got warmup={warmup}, repeats={repeats}, rounds={rounds}"
        )
    device = torch.device(device)
    inputs = torch.randn(input_shape, device=device)
    method = _resolved_method(method, device)
    with ExitStack() as stack:
        timers = []
        for model in models:
            model.to(device)
            stack.enter_context(_eval_no_grad(model))
            timers.append(_timer(model, inputs, warmup, method))
        timings = [[timer.time(repeats) for timer in timers] for _ in range(rounds)]
    readings = []
    for k, timer in enumerate(timers):
        per_round = [round_timings[k] for round_timings in timings]
        flat = [t for round_ in per_round for t in round_]
        mean = statistics.fmean(flat)
        cv = statistics.pstdev(flat) / mean if mean > 0 else 0.0
        readings.append(LatencyReading(latency_statistic(per_round), cv, timer.method))
    return readings


@dataclass(frozen=True)
class LatencyReference:
    """A model whose latency is already known (``latency_ms``, e.g. the teacher's profile), to
    time other models against (:func:`measure_relative_latencies`)."""

    model: nn.Module
    latency_ms: float


def latency_reference(teacher: str, teacher_profile: Mapping[str, Mapping[str, Any]], model: nn.Module
                      ) -> LatencyReference:
    """The teacher ``model`` as the model students are timed against (the search's candidates,
    the retrained students), after checking that it is the teacher ``teacher_profile`` describes."""
    params = count_params(model)
    if params != teacher_profile[teacher]["params"]:
        raise InputError(
            f"teacher_model has {params} parameters but the profiled search teacher '{teacher}' has "
            f"{teacher_profile[teacher]['params']}: they come from different teacher runs; rerun "
            "`kedro run --pipelines=teacher` or pin matching versions with --load-versions."
        )
    return LatencyReference(model, float(teacher_profile[teacher]["latency_ms"]))


def measure_relative_latencies(
    models: Sequence[nn.Module],
    reference: LatencyReference,
    input_shape: InputShape = (1, 3, 224, 224),
    device: str | torch.device = "cpu",
    warmup: int = 3,
    pairs: int = 50,
    method: LatencyMethod = "auto",
) -> list[LatencyReading]:
    """Each model's latency as a multiple of ``reference``'s, one forward of each in turn.

    A shared CPU slows down in spells of 0.1-1 s that slow every model alike and outlast any
    run of one model's forwards (docs/benchmarks.md, "Latency stability"), so no statistic of a
    model's own timings escapes them. The ratio of two adjacent forwards does: the reading is the
    median of ``pairs`` ratios times ``reference.latency_ms``, and ``cv`` the ratios' spread.
    Eq. 2 divides by the teacher's latency, so against the teacher it uses the ratio measured.
    """
    _check_input_shape(input_shape)
    if warmup < 0 or pairs < 1 or not reference.latency_ms > 0:
        raise ValueError(f"need warmup >= 0, pairs >= 1 and a positive reference latency, got warmup={warmup}, "
                         f"pairs={pairs}, reference.latency_ms={reference.latency_ms}")
    device = torch.device(device)
    inputs = torch.randn(input_shape, device=device)
    method = _resolved_method(method, device)
    readings = []
    with ExitStack() as stack:
        for model in (reference.model, *models):
            model.to(device)
            stack.enter_context(_eval_no_grad(model))
        base = _timer(reference.model, inputs, warmup, method)
        for model in models:
            timer = _timer(model, inputs, warmup, method)
            ratios = [timer.time(1)[0] / base.time(1)[0] for _ in range(pairs)]
            mean = statistics.fmean(ratios)
            cv = statistics.pstdev(ratios) / mean if mean > 0 else 0.0
            readings.append(LatencyReading(statistics.median(ratios) * reference.latency_ms, cv, timer.method))
    return readings


def measure_latency(model: nn.Module, *args: Any, **kwargs: Any) -> LatencyReading:
    """:func:`measure_latencies` (same arguments after the model) of one model, in milliseconds."""
    return measure_latencies([model], *args, **kwargs)[0]


def profile_model(
    model: nn.Module,
    input_shape: InputShape = (1, 3, 224, 224),
    settings: ProfileSettings | None = None,
    device: str | torch.device = "cpu",
    reference: LatencyReference | None = None,
) -> dict[str, float | int | str]:
    """Parameters, MACs and batch-1 latency of ``model``:
    ``{params, macs, latency_ms, latency_cv, latency_method}``.

    Latency is measured at batch 1 whatever the batch of ``input_shape`` (the paper's
    deployment setting) on ``settings.device`` or else ``device``; MACs are reported per image.
    With a ``reference`` it is timed against it (:func:`measure_relative_latencies`, ``rounds x
    repeats`` pairs). ``latency_cv`` is the spread of every timed forward (of the pair ratios);
    ``latency_method`` the method that measured them, after any fallback.
    """
    return profile_models([model], input_shape, settings, device, reference)[0]


def profile_models(
    models: Sequence[nn.Module],
    input_shape: InputShape = (1, 3, 224, 224),
    settings: ProfileSettings | None = None,
    device: str | torch.device = "cpu",
    reference: LatencyReference | None = None,
) -> list[dict[str, float | int | str]]:
    """:func:`profile_model` of each model, their latencies timed side by side in interleaved
    rounds (:func:`measure_latencies`), so the models a report compares are timed alike, or each
    against ``reference``."""
    _check_input_shape(input_shape)
    settings = settings or ProfileSettings()
    single_image = (1, *input_shape[1:])
    on = settings.on(str(device))
    if reference is None:
        latencies = measure_latencies(models, single_image, on, settings.warmup, settings.repeats,
                                      settings.latency_method, settings.rounds)
    else:
        latencies = measure_relative_latencies(models, reference, single_image, on, settings.warmup,
                                               settings.rounds * settings.repeats, settings.latency_method)
    return [{
        "params": count_params(model),
        "macs": count_macs(model, single_image),
        "latency_ms": latency.median_ms,
        "latency_cv": latency.cv,
        "latency_method": latency.method,
    } for model, latency in zip(models, latencies)]
