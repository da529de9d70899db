"""Turn an `ArchitectureSpec` into a PyTorch module made of timm's own blocks.

Stem conv -> conv blocks (timm ``EdgeResidual`` = Fused-MBConv, ``InvertedResidual`` = MBConv,
with timm's ``SqueezeExcite``) -> optional Transformer stage (timm ViT ``Block`` on the last
feature map's tokens) -> norm, mean pooling and a linear head (App. C, Fig. 3).
"""

from __future__ import annotations

from functools import partial

import torch
from timm.layers import ConvNormAct, trunc_normal_
from timm.models._efficientnet_blocks import EdgeResidual, InvertedResidual, SqueezeExcite
from timm.models.vision_transformer import Block
from torch import nn

from trade_pipeline.students.fields import check_int
from trade_pipeline.students.spec import ArchitectureSpec, ConvBlockSpec, TransformerSpec

CONV_ACT_LAYER = nn.SiLU  # EfficientNetV2's activation; the Transformer keeps ViT's GELU
STEM_KERNEL_SIZE = 3
TRANSFORMER_NORM_LAYER = partial(nn.LayerNorm, eps=1e-6)  # as in timm's VisionTransformer


def conv_layer(block: ConvBlockSpec, in_chs: int, stride: int, drop_path_rate: float = 0.0) -> nn.Module:
    """One layer of `block`; timm adds the residual (and drops its path at `drop_path_rate`)
    only when stride is 1 and widths match."""
    se_layer = None
    if block.se_ratio > 0:
        se_layer = partial(SqueezeExcite, rd_channels=max(1, round(in_chs * block.se_ratio)))
    common = dict(
        stride=stride,
        noskip=block.skip == "none",
        exp_ratio=block.expansion_ratio,
        act_layer=CONV_ACT_LAYER,
        se_layer=se_layer,
        drop_path_rate=drop_path_rate,
    )
    if block.block_type == "fused_mbconv":
        return EdgeResidual(in_chs, block.width, exp_kernel_size=block.kernel_size, **common)
    return InvertedResidual(in_chs, block.width, dw_kernel_size=block.kernel_size, **common)


def conv_stage(block: ConvBlockSpec, in_chs: int, drop_path_rates: list[float] | None = None) -> nn.Sequential:
    """`block.layers` layers; the first changes stride and width, the rest repeat at `block.width`."""
    rates = drop_path_rates or [0.0] * block.layers
    return nn.Sequential(
        *(
            conv_layer(block, in_chs if index == 0 else block.width, block.stride if index == 0 else 1, rates[index])
            for index in range(block.layers)
        )
    )


class TransformerStage(nn.Module):
    """ViT blocks over the feature map's pixels as tokens, with a learned position embedding.

    Input ``B x C x H x W``, output ``B x (H*W) x width`` (normalised).
    """

    def __init__(self, in_chs: int, spec: TransformerSpec, num_tokens: int,
                 drop_path_rates: list[float] | None = None) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_chs, spec.width, 1) if in_chs != spec.width else nn.Identity()
        self.pos_embed = nn.Parameter(torch.zeros(1, num_tokens, spec.width))
        trunc_normal_(self.pos_embed, std=0.02)
        layer = partial(
            Block, spec.width, spec.heads, mlp_ratio=spec.mlp_ratio, qkv_bias=True, norm_layer=TRANSFORMER_NORM_LAYER
        )
        rates = drop_path_rates or [0.0] * spec.depth
        self.blocks = nn.Sequential(*(layer(drop_path=rate) for rate in rates))
        self.norm = TRANSFORMER_NORM_LAYER(spec.width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.proj(x).flatten(2).transpose(1, 2)
        return self.norm(self.blocks(tokens + self.pos_embed))


class StudentNet(nn.Module):
    """A searched student; `spec` plus the constructor arguments rebuild it exactly.

    `img_size` sizes the Transformer's position embedding; a spec decoded from a space at the
    same resolution (`SearchSpace.at_resolution`) has the strides meant for it. Built through
    timm as the ``trade_student`` family (``students.registry``). ``drop_rate`` is dropout
    before the head; ``drop_path_rate`` is stochastic depth, rising linearly over the layers to
    that rate at the last one, as in timm's EfficientNets and ViTs.
    """

    def __init__(self, spec: ArchitectureSpec, in_chans: int, num_classes: int, img_size: int,
                 drop_rate: float = 0.0, drop_path_rate: float = 0.0) -> None:
        super().__init__()
        self.spec = spec
        self.in_chans = check_int("in_chans", in_chans)
        self.num_classes = check_int("num_classes", num_classes, minimum=0)
        self.img_size = check_int("img_size", img_size)
        self.stem = ConvNormAct(
            in_chans, spec.stem_width, STEM_KERNEL_SIZE, stride=spec.stem_stride, act_layer=CONV_ACT_LAYER
        )
        depths = [block.layers for block in spec.present_blocks] + ([spec.transformer.depth] if spec.transformer else [])
        rates = [drop_path_rate * index / max(1, sum(depths) - 1) for index in range(sum(depths))]
        stages, channels = [], spec.stem_width
        for block in spec.present_blocks:
            stages.append(conv_stage(block, channels, rates[: block.layers]))
            rates = rates[block.layers:]
            channels = block.width
        self.blocks = nn.Sequential(*stages)
        self.transformer = None
        if spec.transformer is not None:
            num_tokens = spec.feature_size(img_size) ** 2
            self.transformer = TransformerStage(channels, spec.transformer, num_tokens, rates)
            channels = spec.transformer.width
        self.num_features = channels
        self.drop_rate = drop_rate
        self.head = nn.Linear(channels, num_classes) if num_classes > 0 else nn.Identity()

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """``B x C x H x W`` images -> ``B x C' x H' x W'`` map, or ``B x N x D`` tokens with a Transformer."""
        x = self.blocks(self.stem(x))
        return x if self.transformer is None else self.transformer(x)

    def get_classifier(self) -> nn.Module:
        return self.head

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        """A fresh head for ``num_classes`` (timm's API; the transfer uses it for new classes)."""
        self.num_classes = check_int("num_classes", num_classes, minimum=0)
        self.head = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Mean over pixels or tokens, then the classifier (skipped when `pre_logits`)."""
        pooled = x.mean(dim=(2, 3)) if self.transformer is None else x.mean(dim=1)
        if pre_logits:
            return pooled
        return self.head(nn.functional.dropout(pooled, self.drop_rate, self.training) if self.drop_rate else pooled)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))
