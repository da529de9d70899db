"""Search-state checkpoints: saved every iteration so a killed search resumes where it stopped.

The state (optimizer observations, trust regions, RNG) is plain JSON written atomically, so a
kill mid-write leaves the previous checkpoint intact. A fingerprint of the settings that shape
the search is stored with it, and resuming is refused when they changed: mixing candidates
scored under another space, strategy or teacher would corrupt the optimizer's model.
"""
from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from trade_pipeline.errors import InputError
from trade_pipeline.optim import OPTIMIZERS
from trade_pipeline.search.config import SearchParams
from trade_pipeline.serialization import fingerprint, save_json

# Key of the saved state under which the caller stores ``search_fingerprint(...)``.
FINGERPRINT_KEY = "fingerprint"
FRESH_START_HINT = "kedro run --pipelines=search --params=search.resume=false"
STATE_FORMAT = 6
"""The layout of the saved state and the optimizer's; raised when an older one cannot be resumed
(2: the history lives in the trial log, the composite strategy keeps its GP's hyperparameters;
3: trial rows carry their search.fidelity rung; 4: trial rows carry the strategy's p_feasible and guided;
5: the fingerprint leaves out the ladder's rungs while it is off)."""
# Settings a resumed search may change: where and how fast it runs, and how far it goes.
RESUMABLE_CHANGES = ("n_trials", "resume", "state_dir", "executor", "dask", "batch_size", "top_k", "hard_label_search")


class ResumeError(InputError):
    """Saved search state that cannot be resumed under the current settings."""


def to_json_value(value: Any) -> Any:
    """``json`` fallback: datetimes as ISO 8601, numpy/torch arrays and scalars as lists/numbers."""
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable: convert it to plain types")


def save_search_state(path: str | os.PathLike, state: Mapping[str, Any]) -> None:
    """Write ``state`` as JSON to ``path`` atomically (temp file in the same folder + rename)."""
    save_json(path, dict(state), default=to_json_value)


def load_search_state(path: str | os.PathLike) -> dict[str, Any] | None:
    """The saved state, or None when no search has been checkpointed at ``path`` yet."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ResumeError(
            f"search state {path} is not valid JSON ({error}); delete it or start fresh with "
            f"`{FRESH_START_HINT}`"
        ) from error
    if not isinstance(state, dict):
        raise ResumeError(f"search state {path} holds a {type(state).__name__}, expected an object")
    return state


def search_fingerprint(params: SearchParams, teacher: str, split_fingerprint: str) -> dict[str, str]:
    """One stable sha256 per setting that shapes the search's results, so a mismatch can be named.

    Every field of ``search`` counts except those in ``RESUMABLE_CHANGES`` (and the options of
    strategies not in use, and the ladder's rungs while it is off): a new setting is covered
    without anyone remembering to add it. Store the result in the state under ``FINGERPRINT_KEY``.
    """
    config_class = OPTIMIZERS[params.strategy].config_class
    unused = {block for model, block in params.option_blocks().items() if model is not config_class}
    settings = params.model_dump(mode="json", exclude=set(RESUMABLE_CHANGES) | unused)
    for off in ("fidelity", "pruning"):  # settings of a mechanism that is off shape nothing
        if not getattr(params, off).enabled:
            settings[off] = {"enabled": False}
    if params.objective == "eq2":  # as before search.objective existed
        del settings["objective"], settings["pareto"]
    else:  # the front does not depend on Eq. 2's target: it is read off at any target afterwards
        del settings["score"]
    settings.update(teacher=teacher, split=split_fingerprint, format=STATE_FORMAT)
    return {name: fingerprint(value) for name, value in settings.items()}


def check_resume(saved_state: Mapping[str, Any] | None, current: Mapping[str, str], resume: bool) -> bool:
    """Whether to resume from ``saved_state``; raises if it was made under other settings.

    False means start fresh: nothing saved, or resuming switched off.
    """
    if saved_state is None or not resume:
        return False
    saved = saved_state.get(FINGERPRINT_KEY) or {}
    if saved.get("format") != current["format"]:
        raise ResumeError(f"refusing to resume the search: its saved state was written by another version of "
                          f"trade_pipeline, in another format. Start fresh with `{FRESH_START_HINT}`.")
    changed = sorted(
        name for name in set(saved) | set(current) if saved.get(name) != current.get(name)
    )
    if not changed:
        return True
    what = f"different {', '.join(changed)}"
    raise ResumeError(
        f"refusing to resume the search: the saved state was made with {what}; mixing its candidates "
        f"with the current settings would mislead the optimizer. Restore the previous settings, or start "
        f"fresh with `{FRESH_START_HINT}`."
    )
