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
from dataclasses import dataclass
from functools import cached_property, lru_cache, partial
from typing import Annotated, Any, Literal

import numpy as np
from numpy.typing import ArrayLike
from pydantic import AfterValidator, Field, model_validator

from trade_pipeline.config import Section, StrictModel
from trade_pipeline.errors import InputError
from trade_pipeline.optim.base import Dimension, bin_levels
from trade_pipeline.students.fields import (
    BLOCK_CHECKS,
    BLOCK_FIELDS,
    TRANSFORMER_CHECKS,
    TRANSFORMER_FIELDS,
    Check,
    check_int,
)
from trade_pipeline.students.spec import ArchitectureSpec, ConvBlockSpec, TransformerSpec, downsampled_size

__all__ = ["SearchSpace", "SearchSpaceError", "SpaceConfig", "StemChoices", "BlockChoices", "TransformerChoices"]

CONFIG_PATH = "search.space"
MAX_BLOCKS = 8  # App. C: "our search space consists of eight pre-defined blocks"


class SearchSpaceError(InputError):
    """A spec does not belong to the space, or the space cannot serve an input resolution."""


def _checked_choices(check: Check, values: tuple[Any, ...]) -> tuple[Any, ...]:
    """Each value passes the field's own check; numeric lists come back sorted, so neighbouring
    bins of the encoding hold neighbouring values; categorical lists keep their order.
    Duplicates are refused because they would silently weight the sampling."""
    parsed = [check(f"choice {index}", value) for index, value in enumerate(values)]
    duplicates = sorted({str(value) for value in parsed if parsed.count(value) > 1})
    if duplicates:
        raise ValueError(f"duplicate choice {duplicates[0]}; list each value once")
    if all(isinstance(value, numbers.Real) for value in parsed):
        parsed.sort()
    return tuple(parsed)


def Choices(check: Check) -> Any:  # noqa: N802 - a type factory, used like a type
    """A non-empty list of choices for one architecture field; one value fixes the field."""
    return Annotated[tuple[Any, ...], Field(min_length=1), AfterValidator(partial(_checked_choices, check))]


Stride = Literal[1, 2]  # the only strides of the fixed per-position schedule
Count = partial(check_int, minimum=0)  # layers / depth: 0 = absent


class StemChoices(StrictModel):
    stride: Stride
    width: Choices(check_int)


class BlockChoices(StrictModel):
    """Choices for one conv block position; `stride` is fixed by the position, not searched."""

    stride: Stride
    layers: Choices(Count)  # 0 = block absent
    block_type: Choices(BLOCK_CHECKS["block_type"])
    kernel_size: Choices(BLOCK_CHECKS["kernel_size"])
    expansion_ratio: Choices(BLOCK_CHECKS["expansion_ratio"])
    se_ratio: Choices(BLOCK_CHECKS["se_ratio"])  # 0 = no squeeze-excite
    skip: Choices(BLOCK_CHECKS["skip"])
    width: Choices(BLOCK_CHECKS["width"])


class TransformerChoices(StrictModel):
    depth: Choices(Count)  # 0 = no Transformer stage
    width: Choices(TRANSFORMER_CHECKS["width"])
    heads: Choices(TRANSFORMER_CHECKS["heads"])
    mlp_ratio: Choices(TRANSFORMER_CHECKS["mlp_ratio"])

    @model_validator(mode="after")
    def _heads_divide_widths(self) -> TransformerChoices:
        """Every width/heads pair must be decodable, since the two coordinates are independent."""
        if max(self.depth) == 0:
            return self
        for width in self.width:
            for heads in self.heads:
                if width % heads:
                    raise ValueError(
                        f"width {width} is not divisible by heads {heads}; every width choice must be "
                        f"a multiple of every heads choice (here of {math.lcm(*self.heads)})"
                    )
        return self


class SpaceConfig(Section):
    """``search.space``: stem conv -> up to 8 conv blocks -> optional Transformer (App. C)."""

    section = CONFIG_PATH

    min_feature_size: int = Field(ge=1)
    stem: StemChoices
    blocks: tuple[BlockChoices, ...] = Field(min_length=1, max_length=MAX_BLOCKS)
    transformer: TransformerChoices


@dataclass(frozen=True)
class SearchSpace:
    """Choices per architecture field; `img_size` (None = declared strides) fixes the strides."""

    stem: StemChoices
    blocks: tuple[BlockChoices, ...]
    transformer: TransformerChoices
    min_feature_size: int
    img_size: int | None = None

    @classmethod
    def from_config(cls, config: SpaceConfig | dict[str, Any]) -> SearchSpace:
        """The space of a validated ``search.space`` (a mapping is validated first)."""
        if not isinstance(config, SpaceConfig):
            config = SpaceConfig.model_validate(config)
        return cls(stem=config.stem, blocks=config.blocks, transformer=config.transformer,
                   min_feature_size=config.min_feature_size)

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

    @cached_property
    def dimensions(self) -> tuple[Dimension, ...]:
        """Each coordinate's kind for the optimizer: numeric choices are ordinal (sorted, so
        kernel 3 < 5), named ones (block type, skip) categorical. A block's other fields are
        active only while its searched ``layers`` is not 0, the Transformer's while its ``depth``
        is not (``Dimension.active_if``): an absent part's choices make no other network."""
        searched = [(path, choices) for path, choices in self._fields if len(choices) > 1]
        index = {path: i for i, (path, _) in enumerate(searched)}
        dimensions = []
        for path, choices in searched:
            part, name = path.rsplit(".", 1)
            size = f"{part}.{'depth' if part == 'transformer' else 'layers'}"
            condition = None
            if name not in ("layers", "depth") and size in index and 0 in searched[index[size]][1]:
                present = tuple(k for k, value in enumerate(searched[index[size]][1]) if value != 0)
                condition = (index[size], present)
            kind = "ordinal" if isinstance(choices[0], numbers.Real) else "categorical"
            dimensions.append(Dimension(kind, len(choices), active_if=condition))
        return tuple(dimensions)

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
        return self.decode_many(point[None])[0]

    def decode_many(self, points: np.ndarray) -> list[ArchitectureSpec]:
        """:meth:`decode` of each row of an ``n x d`` array of finite points, binned at once (the
        search prices thousands of candidates per batch)."""
        counts = self._level_counts
        levels = bin_levels(np.asarray(points, dtype=np.float64), counts).astype(int).tolist()
        fields = [choices for _, choices in self._fields]
        specs = []
        for row in levels:
            searched = iter(row)
            specs.append(self._assemble([choices[next(searched)] if len(choices) > 1 else choices[0]
                                         for choices in fields]))
        return specs

    @cached_property
    def _level_counts(self) -> np.ndarray:
        """``d`` number of choices of each cube coordinate."""
        return np.array([len(choices) for _, choices in self._fields if len(choices) > 1])

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
            block = tuple(next(remaining) for _ in BLOCK_FIELDS)
            blocks.append(_block_spec(block, stride) if block[0] else None)
        transformer = tuple(next(remaining) for _ in TRANSFORMER_FIELDS)
        return ArchitectureSpec(
            stem_width=stem_width,
            stem_stride=self.strides[0],
            blocks=tuple(blocks),
            transformer=_transformer_spec(transformer) if transformer[0] else None,
        )


# Parts validate their fields on construction; a space has few distinct ones and the search
# decodes thousands of candidates per batch, so each is built once.
@lru_cache(maxsize=65536)
def _block_spec(values: tuple[Any, ...], stride: int) -> ConvBlockSpec:
    return ConvBlockSpec(**dict(zip(BLOCK_FIELDS, values)), stride=stride)


@lru_cache(maxsize=4096)
def _transformer_spec(values: tuple[Any, ...]) -> TransformerSpec:
    return TransformerSpec(**dict(zip(TRANSFORMER_FIELDS, values)))


def _part_values(part: object | None, choices: object, names: tuple[str, ...]) -> list[Any]:
    """Values of a block/Transformer spec; an absent one (None) has count 0 and first choices."""
    if part is None:
        return [0, *(getattr(choices, name)[0] for name in names[1:])]
    return [getattr(part, name) for name in names]
