"""The architecture spec: the canonical, JSON-able description of one student (App. C).

A spec is the source of truth for a student: the builder turns it into a module, its JSON
is saved next to the weights, and the hash of the network it builds de-duplicates candidates
during the search. It records everything the builder needs (strides included), so a saved spec
rebuilds the model without the search space it came from.

Absent parts are ``None`` rather than "0 layers plus leftover choices": a block that is not
there has no kernel size, so two architectures that differ only in such leftovers are the
same spec, compare equal and hash alike.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from trade_pipeline.students.fields import (
    BLOCK_ABBREVIATIONS,
    BLOCK_CHECKS,
    TRANSFORMER_CHECKS,
    Check,
    check_int,
    check_stride,
)

HASH_LENGTH = 16  # hex characters of sha256: 64 bits, ample to de-duplicate a search


def downsampled_size(size: int, strides: tuple[int, ...]) -> int:
    """Feature-map side after convs with `strides`.

    timm pads odd kernels symmetrically, so a stride-s conv maps n pixels to ceil(n / s).
    """
    for stride in strides:
        size = -(-size // stride)
    return size


def _normalise(spec: object, checks: Mapping[str, Check]) -> None:
    """Validate and canonicalise the fields of a frozen dataclass in place."""
    for name, check in checks.items():
        object.__setattr__(spec, name, check(name, getattr(spec, name)))


@dataclass(frozen=True)
class ConvBlockSpec:
    """One conv block: `layers` identical layers; the first carries the stride and width change."""

    block_type: str
    layers: int
    kernel_size: int
    expansion_ratio: float
    se_ratio: float  # squeeze-excite channels relative to the layer's input channels; 0 = no SE
    skip: str  # "identity": residual where timm allows it (stride 1, same width); "none": never
    width: int
    stride: int

    def __post_init__(self) -> None:
        _normalise(self, {"layers": check_int, **BLOCK_CHECKS, "stride": check_stride})


@dataclass(frozen=True)
class TransformerSpec:
    """The ViT stage on the last feature map's tokens: `depth` blocks of `width` channels."""

    depth: int
    width: int
    heads: int
    mlp_ratio: float

    def __post_init__(self) -> None:
        _normalise(self, {"depth": check_int, **TRANSFORMER_CHECKS})
        if self.width % self.heads:
            raise ValueError(
                f"width: {self.width} is not divisible by heads {self.heads}; "
                "attention splits the width evenly across heads"
            )


@dataclass(frozen=True)
class ArchitectureSpec:
    """Stem conv -> conv blocks (``None`` = absent) -> optional Transformer stage -> head."""

    stem_width: int
    stem_stride: int
    blocks: tuple[ConvBlockSpec | None, ...]
    transformer: TransformerSpec | None = None

    def __post_init__(self) -> None:
        _normalise(self, {"stem_width": check_int, "stem_stride": check_stride})
        object.__setattr__(self, "blocks", tuple(self.blocks))
        for index, block in enumerate(self.blocks):
            if block is not None and not isinstance(block, ConvBlockSpec):
                raise ValueError(f"blocks[{index}]: expected a ConvBlockSpec or None, got {block!r}")
        if self.transformer is not None and not isinstance(self.transformer, TransformerSpec):
            raise ValueError(f"transformer: expected a TransformerSpec or None, got {self.transformer!r}")

    @property
    def present_blocks(self) -> tuple[ConvBlockSpec, ...]:
        return tuple(block for block in self.blocks if block is not None)

    @property
    def strides(self) -> tuple[int, ...]:
        """Strides actually applied: the stem's, then each present block's."""
        return (self.stem_stride, *(block.stride for block in self.present_blocks))

    def feature_size(self, img_size: int) -> int:
        """Side of the last conv feature map (the Transformer's token grid) for `img_size` inputs."""
        return downsampled_size(img_size, self.strides)

    @property
    def block_sequence(self) -> str:
        """Table 6 style summary, e.g. ``FMB-FMB-MB-MB-T(x2)``; ``stem`` when nothing follows it."""
        parts = [BLOCK_ABBREVIATIONS[block.block_type] for block in self.present_blocks]
        if self.transformer is not None:
            parts.append(f"T(x{self.transformer.depth})")
        return "-".join(parts) or "stem"

    def to_dict(self) -> dict[str, Any]:
        return {
            "stem_width": self.stem_width,
            "stem_stride": self.stem_stride,
            "blocks": [None if block is None else dataclasses.asdict(block) for block in self.blocks],
            "transformer": None if self.transformer is None else dataclasses.asdict(self.transformer),
        }

    def to_json(self) -> str:
        """Canonical JSON: sorted keys, no whitespace, so equal specs give equal strings."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @property
    def hash(self) -> str:
        """Stable short sha256 of the canonical JSON; equal specs hash alike."""
        return hashlib.sha256(self.to_json().encode("utf-8")).hexdigest()[:HASH_LENGTH]

    @property
    def network_hash(self) -> str:
        """:attr:`hash` of the network this spec builds, by which the search de-duplicates its
        candidates. A block of one layer that changes stride or width has no residual whatever its
        ``skip`` says (timm adds one only at stride 1 between equal widths), so specs that differ
        only in such a ``skip`` build the same module; here it reads ``"none"``. The spec itself
        keeps the choice as drawn, so its own :attr:`hash` (the trial log's and the caches' key)
        stays what it was."""
        blocks, in_chs = [], self.stem_width
        for block in self.blocks:
            if block is not None:
                if block.layers == 1 and (block.stride != 1 or block.width != in_chs):
                    block = dataclasses.replace(block, skip="none")
                in_chs = block.width
            blocks.append(block)
        return dataclasses.replace(self, blocks=tuple(blocks)).hash

    @classmethod
    def from_json(cls, text: str) -> ArchitectureSpec:
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "architecture") -> ArchitectureSpec:
        """Rebuild from `to_dict()` output; a block with 0 layers or a depth-0 Transformer is absent.

        Raises ValueError naming the offending entry, e.g. ``architecture.blocks[2].kernel_size``.
        """
        top = _fields_of(cls, data, where)
        if not isinstance(top["blocks"], list | tuple):
            raise ValueError(f"{where}.blocks: expected a list of blocks, got {top['blocks']!r}")
        blocks = tuple(
            _optional_part(ConvBlockSpec, block, f"{where}.blocks[{index}]", "layers")
            for index, block in enumerate(top["blocks"])
        )
        transformer = _optional_part(TransformerSpec, top["transformer"], f"{where}.transformer", "depth")
        return _construct(cls, f"{where}.", stem_width=top["stem_width"], stem_stride=top["stem_stride"],
                          blocks=blocks, transformer=transformer)


def _fields_of(cls: type, data: object, where: str) -> dict[str, Any]:
    """The keys of `data`, which must be exactly the fields of dataclass `cls`."""
    names = [field.name for field in dataclasses.fields(cls)]
    if not isinstance(data, Mapping):
        raise ValueError(f"{where}: expected a mapping with keys {', '.join(names)}, got {data!r}")
    unknown = sorted(set(data) - set(names))
    missing = [name for name in names if name not in data]
    if unknown:
        raise ValueError(f"{where}: unknown key {unknown[0]!r}; allowed: {', '.join(names)}")
    if missing:
        raise ValueError(f"{where}: missing key {missing[0]!r}")
    return dict(data)


def _optional_part(cls: type, data: object, where: str, count_field: str) -> Any:
    """A block or Transformer, or None when it is null or its `count_field` (layers/depth) is 0."""
    if data is None:
        return None
    if isinstance(data, Mapping) and data.get(count_field) == 0:
        return None
    return _construct(cls, f"{where}.", **_fields_of(cls, data, where))


def _construct(cls: type, prefix: str, **values: Any) -> Any:
    """Build `cls`, prefixing field errors with the path of the entry being read."""
    try:
        return cls(**values)
    except ValueError as error:
        raise ValueError(f"{prefix}{error}") from None
