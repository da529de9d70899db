"""Reading a partitioned catalog dataset by configured name."""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from trade_pipeline.errors import InputError

T = TypeVar("T")
Partitions = Mapping[str, Callable[[], T]]


def load_partitions(partitions: Partitions[T], names: Sequence[str], what: str, pipeline: str) -> dict[str, T]:
    """``{name: loaded}`` for the configured ``names``, in their order: a partition left on disk
    by an earlier configuration is never read by mistake, and a missing one is named."""
    missing = [name for name in names if name not in partitions]
    if missing:
        raise InputError(f"no saved {what} named {', '.join(missing)}; run the {pipeline} pipeline with this "
                         "configuration first")
    return {name: partitions[name]() for name in names}
