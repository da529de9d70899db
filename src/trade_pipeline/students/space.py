"""The student search space (App. C) and its unit-cube encoding for the optimizers.

The space is data (``search.space`` in ``parameters_search.yml``): a stem width, up to 8 conv
blocks with a fixed stride per position, and a Transformer stage. Every choice list that offers more than one
value is one coordinate of the cube [0, 1]^d, split into equal-width bins, so every point
decodes to a valid architecture; single-valued choices are fixed, not searched.

Strides adapt to the input resolution (`check_resolution`): starting from the declared
schedule, the latest stride-2 (the stem's last of all) becomes stride 1 while the final
feature map would be smaller than ``min_feature_size``. Late stages lose their downsampling
first, as small-image variants of ImageNet nets do, so 28x28 MNIST, 32x32 CIFAR and 224x224
ImageNet all share one space. The schedule uses every position, present or not, so it
depends only on the resolution, never on the architecture.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property, partial
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from trade_pipeline.students.fields import (
    BLOCK_CHECKS,
    BLOCK_FIELDS,
    TRANSFORMER_CHECKS,
    TRANSFORMER_FIELDS,
    check_int,
    check_stride,
)
from trade_pipeline.students.space_config import SearchSpaceError, parse_section
from trade_pipeline.students.spec import ArchitectureSpec, ConvBlockSpec, TransformerSpec, downsampled_size

__all__ = ["SearchSpace", "SearchSpaceError", "StemChoices", "BlockChoices", "TransformerChoices"]

CONFIG_PATH = "search.space"
MAX_BLOCKS = 8  # App. C: "our search space consists of eight pre-defined blocks"


@dataclass(frozen=True)
class StemChoices:
    stride: int
    width: tuple[int, ...]


@dataclass(frozen=True)
class BlockChoices:
    """Choices for one conv block position; `stride` is fixed by the position, not searched."""

    stride: int
    layers: tuple[int, ...]  # 0 = block absent
    block_type: tuple[str, ...]
    kernel_size: tuple[int, ...]
    expansion_ratio: tuple[float, ...]
    se_ratio: tuple[float, ...]  # 0 = no squeeze-excite
    skip: tuple[str, ...]
    width: tuple[int, ...]


@dataclass(frozen=True)
class TransformerChoices:
    depth: tuple[int, ...]  # 0 = no Transformer stage
    width: tuple[int, ...]
    heads: tuple[int, ...]
    mlp_ratio: tuple[float, ...]


@dataclass(frozen=True)
class SearchSpace:
    """Choices per architecture field; `img_size` (None = declared strides) fixes the strides."""

    stem: StemChoices
    blocks: tuple[BlockChoices, ...]
    transformer: TransformerChoices
    min_feature_size: int
    img_size: int | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SearchSpace:
        """Parse and validate the ``search.space`` mapping; raises SearchSpaceError naming the entry."""
        top = parse_section(config, CONFIG_PATH, **_TOP_SCHEMA)
        space = cls(
            stem=StemChoices(**parse_section(top["stem"], f"{CONFIG_PATH}.stem", **_STEM_SCHEMA)),
            blocks=tuple(
                BlockChoices(**parse_section(block, f"{CONFIG_PATH}.blocks[{index}]", **_BLOCK_SCHEMA))
                for index, block in enumerate(_block_list(top["blocks"]))
            ),
            transformer=TransformerChoices(
                **parse_section(top["transformer"], f"{CONFIG_PATH}.transformer", **_TRANSFORMER_SCHEMA)
            ),
            min_feature_size=top["min_feature_size"],
        )
        _check_heads_divide_widths(space.transformer)
        return space

    # ---- resolution -------------------------------------------------------------------------

    def check_resolution(self, img_size: int) -> tuple[int, ...]:
        """Effective (stem, block 0, block 1, ...) strides for `img_size` inputs.

        Raises SearchSpaceError when even no downsampling leaves a map below min_feature_size.
        """
        if isinstance(img_size, bool) or not isinstance(img_size, numbers.Integral) or img_size < 1:
            raise SearchSpaceError(f"img_size: expected a positive integer, got {img_size!r}")
        if img_size < self.min_feature_size:
            raise SearchSpaceError(
                f"{CONFIG_PATH}.min_feature_size: {img_size}x{img_size} images are smaller than the "
                f"minimum feature map {self.min_feature_size}; set it to at most {img_size}"
            )
        strides = list(self.declared_strides)
        while downsampled_size(img_size, tuple(strides)) < self.min_feature_size:
            latest = max(position for position, stride in enumerate(strides) if stride > 1)
            strides[latest] = 1
        return tuple(strides)

    def at_resolution(self, img_size: int) -> SearchSpace:
        """This space with strides adapted to `img_size`; decode there to build for that size."""
        self.check_resolution(img_size)
        return dataclasses.replace(self, img_size=int(img_size))

    @property
    def declared_strides(self) -> tuple[int, ...]:
        """(stem, block 0, ...) strides as written in the config, before any adaptation."""
        return (self.stem.stride, *(block.stride for block in self.blocks))

    @cached_property
    def strides(self) -> tuple[int, ...]:
        """(stem, block 0, ...) strides that decoded specs get: adapted to `img_size` when set."""
        return self.declared_strides if self.img_size is None else self.check_resolution(self.img_size)

    # ---- encoding ---------------------------------------------------------------------------

    @cached_property
    def _fields(self) -> tuple[tuple[str, tuple[Any, ...]], ...]:
        """(config path, choices) of every architecture field, in encoding order."""
        fields = [("stem.width", self.stem.width)]
        for index, block in enumerate(self.blocks):
            fields += [(f"blocks[{index}].{name}", getattr(block, name)) for name in BLOCK_FIELDS]
        fields += [(f"transformer.{name}", getattr(self.transformer, name)) for name in TRANSFORMER_FIELDS]
        return tuple(fields)

    @cached_property
    def dimension_names(self) -> tuple[str, ...]:
        """Config path of each cube coordinate (the fields with more than one choice)."""
        return tuple(path for path, choices in self._fields if len(choices) > 1)

    @property
    def dimension(self) -> int:
        """d, the number of cube coordinates."""
        return len(self.dimension_names)

    def decode(self, x: ArrayLike) -> ArchitectureSpec:
        """Architecture of a point of [0, 1]^d (clipped); each coordinate picks a choice by bin."""
        point = np.asarray(x, dtype=float)
        if point.shape != (self.dimension,):
            raise ValueError(f"decode: expected a point of shape ({self.dimension},), got {point.shape}")
        if not np.all(np.isfinite(point)):
            raise ValueError(f"decode: the point has non-finite coordinates: {point}")
        coordinates = iter(np.clip(point, 0.0, 1.0))
        values = []
        for _, choices in self._fields:
            index = min(int(next(coordinates) * len(choices)), len(choices) - 1) if len(choices) > 1 else 0
            values.append(choices[index])
        return self._assemble(values)

    def encode(self, spec: ArchitectureSpec) -> np.ndarray:
        """Bin centres of `spec`'s choices, shape (d,); fields of absent parts take their first bin."""
        self.validate(spec)
        return np.array(
            [
                (choices.index(value) + 0.5) / len(choices)
                for (_, choices), value in zip(self._fields, self._values(spec))
                if len(choices) > 1
            ],
            dtype=float,
        )

    def sample(self, rng: np.random.Generator) -> ArchitectureSpec:
        """Uniform over each field's choices (equal-width bins make this uniform in the cube)."""
        return self.decode(rng.random(self.dimension))

    def validate(self, spec: ArchitectureSpec) -> None:
        """Raise SearchSpaceError unless `spec` is one of this space's architectures."""
        if len(spec.blocks) != len(self.blocks):
            raise SearchSpaceError(
                f"architecture has {len(spec.blocks)} conv blocks but {CONFIG_PATH}.blocks has "
                f"{len(self.blocks)}; the spec comes from another search space"
            )
        # an absent block has no stride of its own: it cannot disagree with its position's
        strides = (
            spec.stem_stride,
            *(stride if block is None else block.stride for block, stride in zip(spec.blocks, self.strides[1:])),
        )
        if strides != self.strides:
            raise SearchSpaceError(
                f"architecture strides {strides} differ from {CONFIG_PATH}'s {self.strides} at "
                f"img_size {self.img_size}; decode the spec from a space at the same resolution"
            )
        for (path, choices), value in zip(self._fields, self._values(spec)):
            if value not in choices:
                raise SearchSpaceError(
                    f"architecture value {value!r} for {CONFIG_PATH}.{path} is not among its "
                    f"choices {list(choices)}"
                )

    def _values(self, spec: ArchitectureSpec) -> list[Any]:
        """`spec` flattened in `_fields` order; absent parts give 0 layers/depth and first choices."""
        values: list[Any] = [spec.stem_width]
        for choices, block in zip(self.blocks, spec.blocks):
            values += _part_values(block, choices, BLOCK_FIELDS)
        return values + _part_values(spec.transformer, self.transformer, TRANSFORMER_FIELDS)

    def _assemble(self, values: list[Any]) -> ArchitectureSpec:
        """Inverse of `_values`: build the spec from one value per field."""
        remaining = iter(values)
        stem_width = next(remaining)
        blocks = []
        for stride in self.strides[1:]:
            block = {name: next(remaining) for name in BLOCK_FIELDS}
            blocks.append(ConvBlockSpec(**block, stride=stride) if block["layers"] else None)
        transformer = {name: next(remaining) for name in TRANSFORMER_FIELDS}
        return ArchitectureSpec(
            stem_width=stem_width,
            stem_stride=self.strides[0],
            blocks=tuple(blocks),
            transformer=TransformerSpec(**transformer) if transformer["depth"] else None,
        )


def _nested(_: str, value: object) -> object:
    return value  # a sub-section, parsed with its own schema


_TOP_SCHEMA = {
    "scalars": {"min_feature_size": check_int, "stem": _nested, "blocks": _nested, "transformer": _nested},
    "choices": {},
}
_STEM_SCHEMA = {"scalars": {"stride": check_stride}, "choices": {"width": check_int}}
_BLOCK_SCHEMA = {
    "scalars": {"stride": check_stride},
    "choices": {"layers": partial(check_int, minimum=0), **BLOCK_CHECKS},
}
_TRANSFORMER_SCHEMA = {"scalars": {}, "choices": {"depth": partial(check_int, minimum=0), **TRANSFORMER_CHECKS}}


def _block_list(blocks: object) -> list[Any]:
    if not isinstance(blocks, list) or not 1 <= len(blocks) <= MAX_BLOCKS:
        got = f"{len(blocks)} blocks" if isinstance(blocks, list) else repr(blocks)
        raise SearchSpaceError(f"{CONFIG_PATH}.blocks: expected a list of 1 to {MAX_BLOCKS} conv blocks, got {got}")
    return blocks


def _check_heads_divide_widths(choices: TransformerChoices) -> None:
    """Every width/heads pair must be decodable, since the two coordinates are independent."""
    if max(choices.depth) == 0:
        return
    for width in choices.width:
        for heads in choices.heads:
            if width % heads:
                raise SearchSpaceError(
                    f"{CONFIG_PATH}.transformer: width {width} is not divisible by heads {heads}; "
                    f"every width choice must be a multiple of every heads choice (here of "
                    f"{math.lcm(*choices.heads)})"
                )


def _part_values(part: object | None, choices: object, names: tuple[str, ...]) -> list[Any]:
    """Values of a block/Transformer spec; an absent one (None) has count 0 and first choices."""
    if part is None:
        return [0, *(getattr(choices, name)[0] for name in names[1:])]
    return [getattr(part, name) for name in names]
