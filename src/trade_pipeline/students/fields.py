"""Constraints on architecture fields, shared by the spec (JSON) and the search space (YAML).

Each checker returns the value in its canonical type (so ``4`` and ``4.0`` hash alike) or
raises ``ValueError`` whose message starts with the field name it was given; callers pass the
full path (``search.space.blocks[2].kernel_size``) so the message says where to look.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

BLOCK_TYPES = ("mbconv", "fused_mbconv")
# Table 6 abbreviations: FMB = Fused-MBConv, MB = MBConv, T = Transformer.
BLOCK_ABBREVIATIONS = {"mbconv": "MB", "fused_mbconv": "FMB"}
SKIP_OPS = ("identity", "none")
STRIDES = (1, 2)


def check_int(name: str, value: object, *, minimum: int = 1, odd: bool = False) -> int:
    """An integer >= `minimum`; `odd` for kernels, whose 'same' padding must be symmetric."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {value}")
    if odd and value % 2 == 0:
        raise ValueError(f"{name}: expected an odd kernel size (3, 5, 7, ...), got {value}")
    return int(value)


def check_float(
    name: str, value: object, *, minimum: float, maximum: float | None = None, open_minimum: bool = False
) -> float:
    """A real number in [minimum, maximum] (or (minimum, maximum] when `open_minimum`)."""
    bounds = f"{'(' if open_minimum else '['}{minimum}, {maximum if maximum is not None else 'inf'}]"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name}: expected a number in {bounds}, got {value!r}")
    too_small = value <= minimum if open_minimum else value < minimum
    if too_small or (maximum is not None and value > maximum):
        raise ValueError(f"{name}: expected a number in {bounds}, got {value}")
    return float(value)


def check_choice(name: str, value: object, allowed: Sequence[object]) -> object:
    """One of `allowed`."""
    if value not in allowed or isinstance(value, bool):
        listed = ", ".join(str(option) for option in allowed)
        raise ValueError(f"{name}: unknown value {value!r}; allowed: {listed}")
    return value


def check_stride(name: str, value: object) -> int:
    """1 or 2: the only strides the fixed per-position schedule uses."""
    return int(check_choice(name, value, STRIDES))


Check = Callable[[str, Any], Any]

# Checks of the searched fields other than the counts (`layers`, `depth`): a spec needs a count
# >= 1 (absent parts are None), a search space also offers 0 ("absent").
BLOCK_CHECKS: dict[str, Check] = {
    "block_type": partial(check_choice, allowed=BLOCK_TYPES),
    "kernel_size": partial(check_int, odd=True),
    "expansion_ratio": partial(check_float, minimum=0.0, open_minimum=True),
    # squeeze-excite channels relative to the layer's input channels (timm's EfficientNets); 0 = none
    "se_ratio": partial(check_float, minimum=0.0, maximum=1.0),
    "skip": partial(check_choice, allowed=SKIP_OPS),
    "width": check_int,
}
TRANSFORMER_CHECKS: dict[str, Check] = {
    "width": check_int,
    "heads": check_int,
    "mlp_ratio": partial(check_float, minimum=0.0, open_minimum=True),
}

# Searched fields in encoding order; the count comes first because 0 means "absent".
BLOCK_FIELDS = ("layers", *BLOCK_CHECKS)
TRANSFORMER_FIELDS = ("depth", *TRANSFORMER_CHECKS)
