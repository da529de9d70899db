"""Every strategy resumes from its JSON state with the very same next proposals."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from trade_pipeline.optim import OPTIMIZERS, CompositeObjective, Turbo, create_optimizer
from trade_pipeline.optim.base import Dimension

DIMENSIONS = (Dimension("ordinal", 5),) * 3 + (Dimension("categorical", 3),) * 2 + (Dimension(),) * 2


def outcome(points: np.ndarray) -> np.ndarray:
    return 100.0 / (1.0 + np.exp(-6.0 * (points[:, 0] + points[:, 5] - 1.0)))


def known(points: np.ndarray) -> np.ndarray:
    return np.column_stack([points[:, 1] + 0.1, points[:, 6] + 0.1])


def composite_value(acc: torch.Tensor, costs: torch.Tensor) -> torch.Tensor:
    return -torch.log(acc) - torch.log((acc >= 50.0).double() + 0.01) + torch.log(costs.sum(-1))


def outcome_sd(points: np.ndarray) -> np.ndarray:
    """Some outcomes are estimates (a student stopped early), told with their deviation."""
    return np.where(points[:, 4] > 0.5, 4.0, np.nan)


def value(points: np.ndarray) -> np.ndarray:
    values = composite_value(torch.from_numpy(outcome(points)), torch.from_numpy(known(points))).numpy()
    values[points[:, 2] > 0.8] = np.nan  # some evaluations fail
    return values


def make(strategy: str, seed: int):
    options = {"dimensions": DIMENSIONS, "max_evaluations": 40}
    if issubclass(OPTIMIZERS[strategy], Turbo):
        options.update(batch_size=3, n_trust_regions=2, n_init=4, n_candidates=150)
    if strategy == "composite":
        options.update(objective=CompositeObjective(known, composite_value, (0.0, 100.0)), n_global=50)
    if strategy == "lamcts":
        options.update(n_init=6, leaf_size=6, n_candidates=150)
    return create_optimizer(strategy, len(DIMENSIONS), seed, **options)


@pytest.mark.parametrize("strategy", sorted(OPTIMIZERS))
def test_a_restored_optimizer_makes_the_same_next_proposals(strategy: str) -> None:
    original = make(strategy, seed=3)
    for _ in range(5):
        points = original.ask(3)
        original.tell(points, value(points), outcome(points), outcome_sd(points))
    pending = original.ask(2)  # saved while these are still being evaluated
    state = json.loads(json.dumps(original.state_dict(), allow_nan=False))

    # the settings come back from the state, not from the constructor (only code is passed again)
    objective = {"objective": original.objective} if strategy == "composite" else {}
    restored = create_optimizer(strategy, len(DIMENSIONS), 99, dimensions=DIMENSIONS, **objective)
    restored.load_state_dict(state)
    for optimizer in (original, restored):
        optimizer.tell(pending, value(pending), outcome(pending), outcome_sd(pending))
    np.testing.assert_array_equal(original.ask(3), restored.ask(3))
    assert original.last_region_ids == restored.last_region_ids
    assert original.state_dict() == restored.state_dict()


@pytest.mark.parametrize("strategy", ["composite", "random"])
def test_a_history_kept_elsewhere_restores_the_same_optimizer(strategy: str) -> None:
    original = make(strategy, seed=1)
    for _ in range(4):
        points = original.ask(3)
        original.tell(points, value(points), outcome(points), outcome_sd(points))
    history = json.loads(json.dumps(original.state_dict()["history"]))
    state = original.state_dict(history=False)
    assert "history" not in state and state["n_told"] == 12

    restored = make(strategy, seed=1)
    restored.load_state_dict(state, history=history)
    np.testing.assert_array_equal(original.ask(3), restored.ask(3))
    with pytest.raises(ValueError, match="saved after 12 evaluations but the history given has 11"):
        make(strategy, seed=1).load_state_dict(state, history={k: v[:11] for k, v in history.items()})
