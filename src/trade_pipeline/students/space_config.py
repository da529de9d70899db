"""Reading sections of the ``search.space`` YAML mapping; `SearchSpaceError` names the bad entry."""

from __future__ import annotations

import difflib
import numbers
from collections.abc import Mapping
from typing import Any

from trade_pipeline.students.fields import Check


class SearchSpaceError(ValueError):
    """A search-space entry is invalid, or a spec does not belong to the space."""


def parse_section(
    config: object,
    where: str,
    *,
    scalars: Mapping[str, Check],
    choices: Mapping[str, Check],
) -> dict[str, Any]:
    """Check a mapping's keys, then each scalar and each choice list (a non-empty list).

    Numeric choice lists come back sorted, so neighbouring bins of the encoding hold
    neighbouring values; categorical lists keep their order. Duplicates are refused because
    they would silently weight the sampling.
    """
    allowed = sorted([*scalars, *choices])
    if not isinstance(config, Mapping):
        raise SearchSpaceError(f"{where}: expected a mapping with keys {', '.join(allowed)}, got {config!r}")
    for key in config:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise SearchSpaceError(f"{where}: unknown key {key!r}{hint}; allowed: {', '.join(allowed)}")
    for key in allowed:
        if key not in config:
            raise SearchSpaceError(f"{where}: missing key {key!r}")
    parsed = {key: _checked(check, f"{where}.{key}", config[key]) for key, check in scalars.items()}
    for key, check in choices.items():
        parsed[key] = _choice_list(config[key], f"{where}.{key}", check)
    return parsed


def _choice_list(values: object, where: str, check: Check) -> tuple[Any, ...]:
    if not isinstance(values, list | tuple):
        raise SearchSpaceError(f"{where}: expected a list of choices, e.g. [{values!r}], got {values!r}")
    if not values:
        raise SearchSpaceError(f"{where}: empty choice list; give at least one value")
    parsed = [_checked(check, f"{where}[{index}]", value) for index, value in enumerate(values)]
    duplicates = sorted({str(value) for value in parsed if parsed.count(value) > 1})
    if duplicates:
        raise SearchSpaceError(f"{where}: duplicate choice {duplicates[0]}; list each value once")
    if all(isinstance(value, numbers.Real) for value in parsed):
        parsed.sort()
    return tuple(parsed)


def _checked(check: Check, where: str, value: object) -> Any:
    try:
        return check(where, value)
    except ValueError as error:
        raise SearchSpaceError(str(error)) from None
