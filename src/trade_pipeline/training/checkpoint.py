"""A training run's saved state, written after every epoch, so a killed run resumes where it stopped."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trade_pipeline.errors import InputError
from trade_pipeline.serialization import load_tensor_state, save_tensor_state


class CheckpointMismatchError(InputError):
    """A saved training state that belongs to another model, recipe or dataset."""


@dataclass(frozen=True)
class Checkpoint:
    """Where a run saves its state after every epoch, and the identity a resume must match.

    ``fingerprint`` names what the weights are for (model spec, recipe, data, teacher); a saved
    state with another one is refused and left in place, never overwritten.
    """

    path: Path
    fingerprint: str

    def load(self) -> dict[str, Any] | None:
        if not self.path.exists():
            return None
        state = load_tensor_state(self.path)
        if state.get("fingerprint") != self.fingerprint:
            raise CheckpointMismatchError(
                f"checkpoint '{self.path}' was saved for another model, recipe or dataset; it is kept as it is. "
                "Restore the settings it was made with, or move it away to train afresh."
            )
        return state

    def save(self, trainer: dict[str, Any], loader: dict[str, Any], epoch: int, history: list[dict[str, Any]],
             probes: list[dict[str, Any]] = ()) -> None:
        """Writes (atomically) the trainer's and the loader's state after ``epoch``, with the
        probes scored so far (a resumed run does not score them again)."""
        save_tensor_state(self.path, {"fingerprint": self.fingerprint, "epoch": epoch, "history": history,
                                      "probes": list(probes), "trainer": trainer, "loader": loader})
