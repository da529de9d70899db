"""A student's params and MACs from its spec alone, exactly, without building the student.

A student is a chain of parts (stem, conv layers, Transformer stage, head) whose params and
MACs add up (a per-block lookup table in the manner of nn-Meter and once-for-all). Conv layers
are counted in closed form from timm's ``EdgeResidual`` / ``InvertedResidual`` definitions
(BatchNorm's two parameters per channel, no conv bias, ``make_divisible`` expansion widths),
since building and running thousands of them would cost seconds per batch; the few distinct
Transformer stages are built once and counted by ``profiling``. The totals equal
``count_params`` / ``count_macs`` of the built ``StudentNet`` (tested). This is what lets the
search know a candidate's costs before training, for thousands of candidates per batch (#18).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

import torch
from timm.layers import make_divisible
from torch import nn

from trade_pipeline.profiling import count_macs, count_params
from trade_pipeline.students.builder import STEM_KERNEL_SIZE, TransformerStage
from trade_pipeline.students.spec import ArchitectureSpec, ConvBlockSpec, downsampled_size


class StudentCostTable:
    """``(params, MACs)`` of searched students for one input shape and number of classes.

    Equal to ``count_params`` / ``count_macs`` of the built ``StudentNet`` (tested); building a
    part for the table leaves the global torch random state untouched.
    """

    def __init__(self, in_chans: int, num_classes: int, img_size: int) -> None:
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.img_size = img_size
        self._parts: dict[Hashable, tuple[int, int]] = {}

    def __call__(self, spec: ArchitectureSpec) -> tuple[int, int]:
        size = downsampled_size(self.img_size, (spec.stem_stride,))
        stem = _conv(self.in_chans, spec.stem_width, STEM_KERNEL_SIZE, size)
        params, macs = stem[0] + 2 * spec.stem_width, stem[1]  # conv + BatchNorm
        channels = spec.stem_width
        for block in spec.present_blocks:
            for index in range(block.layers):
                stride = block.stride if index == 0 else 1
                layer = _layer_costs(block, channels if index == 0 else block.width, stride, size)
                params, macs = params + layer[0], macs + layer[1]
                size = downsampled_size(size, (stride,))
            channels = block.width
        if spec.transformer is not None:
            transformer, in_chs = spec.transformer, channels
            part = self._part(("transformer", transformer, in_chs, size),
                              lambda: TransformerStage(in_chs, transformer, size * size), (1, in_chs, size, size))
            params, macs = params + part[0], macs + part[1]
            channels = transformer.width
        if self.num_classes > 0:  # the head: a linear layer on the pooled features
            params += channels * self.num_classes + self.num_classes
            macs += channels * self.num_classes
        return params, macs

    def _part(self, key: Hashable, build: Callable[[], nn.Module], input_shape: tuple[int, int, int, int]
              ) -> tuple[int, int]:
        if key not in self._parts:
            with torch.random.fork_rng():  # initialising weights must not shift anyone's random stream
                module = build()
            self._parts[key] = (count_params(module), count_macs(module, input_shape))
        return self._parts[key]


def _conv(in_chs: int, out_chs: int, kernel: int, out_size: int, groups: int = 1, bias: bool = False
          ) -> tuple[int, int]:
    """(params, MACs) of a conv with a square ``out_size`` output (``count_macs``' convention)."""
    weights = out_chs * (in_chs // groups) * kernel * kernel
    return weights + (out_chs if bias else 0), weights * out_size * out_size


def _layer_costs(block: ConvBlockSpec, in_chs: int, stride: int, size: int) -> tuple[int, int]:
    """(params, MACs) of one ``builder.conv_layer``: timm's EdgeResidual (Fused-MBConv) or
    InvertedResidual (MBConv) with its SqueezeExcite, on ``size x size`` inputs."""
    out_size = downsampled_size(size, (stride,))
    mid = make_divisible(in_chs * block.expansion_ratio)
    if block.block_type == "fused_mbconv":
        convs = [_conv(in_chs, mid, block.kernel_size, out_size)]
        norms = mid + block.width
    else:
        convs = [_conv(in_chs, mid, 1, size), _conv(mid, mid, block.kernel_size, out_size, groups=mid)]
        norms = 2 * mid + block.width
    convs.append(_conv(mid, block.width, 1, out_size))
    if block.se_ratio > 0:  # on the pooled map: 1x1 outputs
        reduced = max(1, round(in_chs * block.se_ratio))
        convs += [_conv(mid, reduced, 1, 1, bias=True), _conv(reduced, mid, 1, 1, bias=True)]
    return sum(p for p, _ in convs) + 2 * norms, sum(m for _, m in convs)
