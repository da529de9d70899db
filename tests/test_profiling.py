"""Parameter, MAC and latency profiling against hand counts and timm's published figures."""
from __future__ import annotations

import logging

import pytest
import timm
import torch
from timm.models.vision_transformer import Block
from torch import nn

from trade_pipeline import profiling
from trade_pipeline.profiling import ProfileSettings, count_macs, count_params, measure_latency, profile_model


class _SmallConvNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)  # 8x8 output
        self.depthwise = nn.Conv2d(4, 4, 3, stride=2, padding=1, groups=4)  # 4x4 output
        self.norm = nn.BatchNorm2d(4)
        self.head = nn.Linear(4, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(self.depthwise(self.conv(x))).relu()
        return self.head(x.mean(dim=(2, 3)))


def test_macs_of_small_conv_net_match_hand_count() -> None:
    conv = 8 * 8 * 4 * (1 * 3 * 3)
    depthwise = 4 * 4 * 4 * (1 * 3 * 3)
    linear = 4 * 10
    assert count_macs(_SmallConvNet(), (1, 1, 8, 8)) == conv + depthwise + linear


def test_macs_scale_with_batch() -> None:
    model = _SmallConvNet()
    assert count_macs(model, (3, 1, 8, 8)) == 3 * count_macs(model, (1, 1, 8, 8))


def test_resnet18_matches_timm_published_figures() -> None:
    model = timm.create_model("resnet18")
    assert count_params(model) == 11_689_512
    assert count_macs(model, (1, 3, 224, 224)) == pytest.approx(1.82e9, rel=0.02)


class _Tokens(nn.Module):
    def __init__(self, block: nn.Module) -> None:
        super().__init__()
        self.block = block

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x.flatten(2).transpose(1, 2))  # B x C x H x W -> B x N x C


def test_vit_block_macs_include_attention_matmuls() -> None:
    dim, heads, tokens, hidden = 8, 2, 6, 16
    model = _Tokens(Block(dim=dim, num_heads=heads, mlp_ratio=hidden / dim))
    linears = tokens * (dim * 3 * dim + dim * dim + dim * hidden + hidden * dim)
    attention = 2 * heads * tokens * tokens * (dim // heads)
    assert count_macs(model, (1, dim, 2, 3)) == linears + attention


def test_latency_is_positive_and_runs_warmup_plus_repeats() -> None:
    model = _SmallConvNet()
    calls = []
    model.register_forward_hook(lambda *args: calls.append(1))
    latency = measure_latency(model, (1, 1, 8, 8), "cpu", warmup=2, repeats=5)
    assert isinstance(latency.median_ms, float) and latency.median_ms > 0 and latency.cv >= 0
    assert latency.method == "eager"  # what "auto" means off CUDA
    assert len(calls) == 7
    assert model.training  # the caller's mode is restored


def test_cuda_graph_off_cuda_falls_back_to_eager_and_says_why(caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="trade_pipeline.profiling"):
        latency = measure_latency(_SmallConvNet(), (1, 1, 8, 8), "cpu", warmup=0, repeats=3, method="cuda_graph")
    assert latency.method == "eager" and latency.median_ms > 0
    assert "needs a CUDA device" in caplog.text


def test_a_failed_graph_capture_falls_back_to_eager_and_logs_the_reason(monkeypatch, caplog) -> None:
    def refuse(*args) -> list[float]:
        raise RuntimeError("operation not permitted when stream is capturing\nCUDA kernel errors ...")

    monkeypatch.setattr(profiling, "_resolved_method", lambda method, device: "cuda_graph")
    monkeypatch.setattr(profiling, "_CudaGraphTimer", refuse)
    with caplog.at_level(logging.WARNING, logger="trade_pipeline.profiling"):
        latency = measure_latency(_SmallConvNet(), (1, 1, 8, 8), "cpu", warmup=0, repeats=3, method="cuda_graph")
    assert latency.method == "eager" and latency.median_ms > 0
    assert "_SmallConvNet failed (operation not permitted when stream is capturing)" in caplog.text


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_graph_latency_is_measured_on_cuda_and_host_syncs_fall_back() -> None:
    assert measure_latency(_SmallConvNet(), (1, 1, 8, 8), "cuda", repeats=20).method == "cuda_graph"

    class _HostSync(_SmallConvNet):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return super().forward(x) * float(x.sum().item() != 0)  # .item() cannot be captured

    assert measure_latency(_HostSync(), (1, 1, 8, 8), "cuda", method="cuda_graph").method == "eager"


def test_profile_model_reports_per_image_costs() -> None:
    model = _SmallConvNet()
    profile = profile_model(model, (4, 1, 8, 8), ProfileSettings(warmup=0, repeats=1))
    assert profile["params"] == count_params(model)
    assert profile["macs"] == count_macs(model, (1, 1, 8, 8))
    assert profile["latency_ms"] > 0 and profile["latency_cv"] >= 0 and profile["latency_method"] == "eager"


def test_bad_input_shape_is_rejected() -> None:
    with pytest.raises(ValueError, match="input_shape"):
        count_macs(_SmallConvNet(), (1, 8, 8))


def test_the_latency_statistic_is_the_median_of_each_rounds_fastest_forward() -> None:
    # a slow spell hits one forward of round 0 and all of round 1; neither moves the reading
    assert profiling.latency_statistic([[3.0, 1.0, 9.0], [5.0, 4.0, 6.0], [2.0, 1.5, 2.0]]) == 1.5
    with pytest.raises(ValueError, match="at least one round"):
        profiling.latency_statistic([])


def test_several_models_are_timed_in_interleaved_rounds() -> None:
    order: list[str] = []
    models = {name: _SmallConvNet() for name in "ab"}
    for name, model in models.items():
        model.register_forward_hook(lambda *args, name=name: order.append(name))
    readings = profiling.measure_latencies(list(models.values()), (1, 1, 8, 8), "cpu", warmup=1, repeats=2, rounds=3)
    assert [reading.method for reading in readings] == ["eager", "eager"]
    assert "".join(order) == "ab" + "aabb" * 3  # warm-up, then every round times a, then b


class _ScriptedTimer:
    """A timer that returns the next of a fixed list of forward times."""

    method = "eager"

    def __init__(self, timings: list[float]) -> None:
        self.timings = iter(timings)

    def time(self, repeats: int) -> list[float]:
        return [next(self.timings) for _ in range(repeats)]


def test_timing_against_a_reference_cancels_a_slow_spell(monkeypatch) -> None:
    # the machine slows down 3x for the middle pair: both forwards of it, so the ratio holds
    student, teacher = _SmallConvNet(), _SmallConvNet()
    scripted = {id(student): [2.0, 6.0, 2.0], id(teacher): [1.0, 3.0, 1.0]}
    monkeypatch.setattr(profiling, "_timer", lambda model, *args: _ScriptedTimer(scripted[id(model)]))
    reference = profiling.LatencyReference(teacher, latency_ms=1.5)
    [reading] = profiling.measure_relative_latencies([student], reference, (1, 1, 8, 8), "cpu", warmup=0, pairs=3)
    assert reading.median_ms == pytest.approx(2 * 1.5) and reading.cv == pytest.approx(0.0)
    # profile_model times rounds x repeats pairs against the reference
    scripted = {id(student): [4.0] * 6, id(teacher): [1.0] * 6}
    profile = profile_model(student, (1, 1, 8, 8), ProfileSettings(warmup=0, repeats=2, rounds=3), reference=reference)
    assert profile["latency_ms"] == pytest.approx(4 * 1.5)


def test_forwards_alternate_with_the_reference() -> None:
    order: list[str] = []
    student, teacher = _SmallConvNet(), _SmallConvNet()
    for name, model in (("s", student), ("t", teacher)):
        model.register_forward_hook(lambda *args, name=name: order.append(name))
    reference = profiling.LatencyReference(teacher, latency_ms=1.0)
    profiling.measure_relative_latencies([student], reference, (1, 1, 8, 8), "cpu", warmup=1, pairs=3)
    assert "".join(order) == "ts" + "st" * 3  # warm-up, then one forward of each in turn


def test_a_reference_needs_a_positive_latency_and_pairs() -> None:
    reference = profiling.LatencyReference(_SmallConvNet(), latency_ms=0.0)
    with pytest.raises(ValueError, match="positive reference latency"):
        profiling.measure_relative_latencies([_SmallConvNet()], reference, (1, 1, 8, 8))
    with pytest.raises(ValueError, match="pairs >= 1"):
        profiling.measure_relative_latencies([_SmallConvNet()], profiling.LatencyReference(_SmallConvNet(), 1.0),
                                             (1, 1, 8, 8), pairs=0)
