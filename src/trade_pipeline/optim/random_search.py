"""Uniform random search: the baseline every strategy must beat at equal budget (TRADE Fig. 7)."""

from __future__ import annotations

import numpy as np

from trade_pipeline.optim.base import AskTellOptimizer


class RandomSearch(AskTellOptimizer):
    """Independent uniform points on [0, 1]^d, never repeating a told or pending key."""

    strategy = "random"
    multi_objective = True  # it learns nothing from what it is told, so any target suits it

    def _propose(self, n: int) -> tuple[np.ndarray, list[dict]]:
        return self._draw_random(n)
