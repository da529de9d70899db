"""REINFORCE controller (Williams 1992) over the space's choices, the RL search of AKD
(Liu et al. 2020) and MNAS (Tan et al. 2019) reduced to its core, behind ask/tell.

The policy is one independent softmax per dimension (continuous dimensions cut into equal
bins), so it needs no autograd: for a softmax, d log p(a) / d logits = onehot(a) - p.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from pydantic import Field

from trade_pipeline.config import StrictModel
from trade_pipeline.optim.base import RANDOM_ORIGIN, AskTellOptimizer, Dimension
from trade_pipeline.optim.choices import fill_failures, fresh_points, uniform_choices

POLICY_ORIGIN = 0
"""``last_region_ids`` entry of a point sampled from the policy."""


class ReinforceConfig(StrictModel):
    """REINFORCE settings (``search.rl``).

    The reward is -value, i.e. -log(Score), whose differences between candidates are O(0.1-1);
    ``learning_rate`` 0.5 then moves a logit by about that much per clearly better or worse
    sample, enough to learn within a few hundred evaluations without collapsing on the first
    lucky one. ``baseline_decay`` 0.9 averages roughly the last ten rewards, a window that
    fits a budget of hundreds (ENAS's 0.99 assumes thousands of samples). No entropy bonus by
    default, as in Williams 1992.
    """

    learning_rate: float = Field(default=0.5, gt=0)
    baseline_decay: float = Field(default=0.9, ge=0, lt=1)
    entropy_weight: float = Field(default=0.0, ge=0)
    continuous_bins: int = Field(default=10, ge=2)


def policy_choices(dimensions: Sequence[Dimension], bins: int) -> tuple[Dimension, ...]:
    """What the policy picks from: the dimensions, each continuous one cut into ``bins`` levels."""
    return tuple(dimension if dimension.discrete else Dimension("ordinal", bins) for dimension in dimensions)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Probabilities (``k``) of ``k`` logits, shifted first so large logits cannot overflow."""
    weights = np.exp(logits - logits.max())
    return weights / weights.sum()


def entropy_gradient(probabilities: np.ndarray) -> np.ndarray:
    """d H / d logits for H = -sum p log p (``k``): -p (log p + H)."""
    log_p = np.log(np.maximum(probabilities, np.finfo(float).tiny))
    entropy = -(probabilities * log_p).sum()
    return -probabilities * (log_p + entropy)


class Reinforce(AskTellOptimizer):
    """Independent softmax policy per dimension, trained by REINFORCE with a moving-average
    baseline after every ``tell``.

    Each told point is one REINFORCE sample, whatever proposed it: its action is the level
    each coordinate falls in, so a shared initial design told first trains the policy too.
    Failed evaluations (NaN) get the worst reward seen so far; until something succeeds there
    is no reward scale and the policy stays as it is.
    """

    strategy = "rl"
    config_class = ReinforceConfig

    def __init__(self, dim: int, seed: int = 0, **kwargs: Any) -> None:
        super().__init__(dim, seed, **kwargs)
        self.choices = policy_choices(self.dimensions, self.config.continuous_bins)
        self._logits = [np.zeros(choice.levels) for choice in self.choices]
        self._baseline: float | None = None

    @property
    def probabilities(self) -> list[np.ndarray]:
        """Per dimension, the policy's probability of each level (``levels``)."""
        return [softmax(logits) for logits in self._logits]

    @property
    def baseline(self) -> float | None:
        """Moving average of the rewards; None before the first successful evaluation."""
        return self._baseline

    def _propose(self, n: int) -> tuple[np.ndarray, list[dict]]:
        """Policy samples; uniform levels for slots the policy keeps filling with taken keys
        (a nearly deterministic policy), so the batch shrinks only when the space is used up."""
        cumulative = [np.cumsum(probabilities) for probabilities in self.probabilities]
        sampled = fresh_points(n, self.dim, lambda: self._sample(cumulative), self._claim, self.dedup_tries)
        uniform = self._draw_unique(
            n - len(sampled), lambda k: uniform_choices(self._rng, k, self.choices)
        )
        regions = [POLICY_ORIGIN] * len(sampled) + [RANDOM_ORIGIN] * len(uniform)
        return np.vstack([sampled, uniform]), [{"region": region} for region in regions]

    def _sample(self, cumulative: list[np.ndarray]) -> np.ndarray:
        """One point (``d``): a level per dimension drawn by inverting its cumulative policy
        probabilities (``levels`` each), at the bin centre."""
        uniforms = self._rng.random(self.dim)
        return np.array([
            choice.centre(min(int(np.searchsorted(cdf, u, side="right")), choice.levels - 1))
            for choice, cdf, u in zip(self.choices, cumulative, uniforms)
        ])

    def _observe(self, indices: np.ndarray, origins: list[dict]) -> None:
        """One REINFORCE step (Williams 1992) for the whole batch:
        logits += lr * sum_i (R_i - b_i) (onehot(a_i) - p) [+ entropy_weight * dH/dlogits per sample],
        with the baseline updated after each reward, b <- decay b + (1 - decay) R."""
        if not len(indices) or not np.isfinite(self._values).any():
            return
        rewards = -fill_failures(self._values[indices], self._values)
        if self._baseline is None:
            self._baseline = float(rewards[0])
        decay, advantages = self.config.baseline_decay, np.empty(len(rewards))
        for i, reward in enumerate(rewards):
            advantages[i] = reward - self._baseline
            self._baseline = decay * self._baseline + (1.0 - decay) * float(reward)
        points = self._points[indices]
        for j, (choice, probabilities) in enumerate(zip(self.choices, self.probabilities)):
            actions = np.eye(choice.levels)[choice.level(points[:, j])]  # n x levels
            gradient = advantages @ (actions - probabilities)
            gradient += len(indices) * self.config.entropy_weight * entropy_gradient(probabilities)
            self._logits[j] = self._logits[j] + self.config.learning_rate * gradient

    def _strategy_state(self) -> dict:
        return {
            "logits": [logits.tolist() for logits in self._logits],
            "baseline": self._baseline,
        }

    def _load_strategy_state(self, state: dict) -> None:
        self.choices = policy_choices(self.dimensions, self.config.continuous_bins)
        self._logits = [np.array(logits, dtype=np.float64) for logits in state["logits"]]
        self._baseline = state["baseline"]
