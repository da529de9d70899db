"""A student's params and MACs from its spec alone, exactly, without building the student.

A student is a chain of parts (stem, conv layers, Transformer stage, head) whose params and
MACs add up (a per-block lookup table in the manner of nn-Meter and once-for-all). Each part is
counted in closed form from timm's own definitions (``EdgeResidual`` / ``InvertedResidual`` with
BatchNorm's two parameters per channel, no conv bias and ``make_divisible`` expansion widths;
ViT ``Block``), memoised, since building and running thousands of parts would cost seconds per
batch. The totals equal ``count_params`` / ``count_macs`` of the built ``StudentNet`` (tested on
both shipped spaces). This is what lets the search know a candidate's costs before training,
for thousands of candidates per batch.
"""

from __future__ import annotations

from functools import lru_cache

from timm.layers import make_divisible

from trade_pipeline.students.builder import STEM_KERNEL_SIZE
from trade_pipeline.students.spec import ArchitectureSpec, ConvBlockSpec, TransformerSpec, downsampled_size


class StudentCostTable:
    """``(params, MACs)`` of searched students for one input shape and number of classes.

    Equal to ``count_params`` / ``count_macs`` of the built ``StudentNet`` (tested).
    """

    def __init__(self, in_chans: int, num_classes: int, img_size: int) -> None:
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.img_size = img_size

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
            stage = _transformer_costs(spec.transformer, channels, size * size)
            params, macs = params + stage[0], macs + stage[1]
            channels = spec.transformer.width
        if self.num_classes > 0:  # the head: a linear layer on the pooled features
            params += channels * self.num_classes + self.num_classes
            macs += channels * self.num_classes
        return params, macs


def _conv(in_chs: int, out_chs: int, kernel: int, out_size: int, groups: int = 1, bias: bool = False
          ) -> tuple[int, int]:
    """(params, MACs) of a conv with a square ``out_size`` output (``count_macs``' convention)."""
    weights = out_chs * (in_chs // groups) * kernel * kernel
    return weights + (out_chs if bias else 0), weights * out_size * out_size


@lru_cache(maxsize=65536)
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


@lru_cache(maxsize=4096)
def _transformer_costs(spec: TransformerSpec, in_chs: int, tokens: int) -> tuple[int, int]:
    """(params, MACs) of ``builder.TransformerStage``: a 1x1 projection when the width changes,
    a position embedding, ``depth`` timm ViT ``Block`` s (qkv and projection with biases, an MLP
    of ``mlp_ratio``, two LayerNorms, the two attention matmuls counted as ``count_macs`` does)
    and a final LayerNorm."""
    width, hidden = spec.width, int(spec.width * spec.mlp_ratio)
    params, macs = tokens * width + 2 * width, 0  # position embedding, final norm
    if in_chs != width:
        params, macs = params + in_chs * width + width, macs + tokens * in_chs * width
    linears = 3 * width * width + width * width + 2 * width * hidden  # qkv, proj, fc1, fc2 weights
    block_params = linears + 3 * width + width + hidden + width + 4 * width  # their biases, two norms
    block_macs = tokens * linears + 2 * tokens * tokens * width  # q k^T and attn v over all heads
    return params + spec.depth * block_params, macs + spec.depth * block_macs
