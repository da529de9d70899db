"""LA-MCTS (Wang, Fonseca & Tian 2020, "Learning Search Space Partition for Black-box
Optimization using Monte Carlo Tree Search") behind ask/tell: the comparator of TRADE Fig. 7.

Every ask rebuilds the tree from the whole history (§3.1): a node holding at least
``leaf_size`` samples is split by K-means on (x, f(x)) -- points near each other *and* alike
in value -- and an SVM turns the two clusters into a boundary in x alone, so that it applies
to unseen points. UCB walks from the root to a leaf (§3.2); a GP fitted on that leaf's samples
picks the batch by Thompson sampling among candidates inside the leaf's region (§3.3, the
LA-MCTS + BO variant).
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from pydantic import Field
from sklearn.cluster import KMeans
from sklearn.svm import SVC
from torch.quasirandom import SobolEngine

from trade_pipeline.config import StrictModel
from trade_pipeline.optim.base import RANDOM_ORIGIN, AskTellOptimizer, Dimension
from trade_pipeline.optim.choices import fill_failures, snap_to_levels, uniform_choices
from trade_pipeline.optim.trust_region import TurboConfig, latin_hypercube
from trade_pipeline.optim.turbo import fit_gp, thompson_samples

logger = logging.getLogger(__name__)

KMEANS_RESTARTS = 4  # fixed, so that a rebuilt tree depends on the history and the RNG only


class LaMCTSConfig(StrictModel):
    """LA-MCTS settings (``search.lamcts``).

    ``n_init`` Latin-hypercube points first (None: ``2 d`` as TuRBO, at most half the budget).
    ``leaf_size`` 20 and the rbf ``svm_kernel`` are the reference implementation's defaults
    (θ in [20, 100] in the paper). ``exploration`` is Cp for node means in standard deviations
    of the objective over the history: the authors advise Cp ~ 0.1 max f for accuracies, whose
    spread is ~0.1, i.e. about one standard deviation. ``n_candidates`` Sobol points per ask
    (half in the cube, half in the leaf's bounding box) before the region's rejection.
    """

    n_init: int | None = Field(default=None, ge=1)
    leaf_size: int = Field(default=20, ge=2)
    exploration: float = Field(default=1.0, ge=0)
    svm_kernel: Literal["rbf", "linear"] = "rbf"
    n_candidates: int = Field(default=1000, ge=2)


@dataclass(frozen=True)
class Node:
    """A region holding history rows ``indices`` (``m``) whose standardised values average
    ``mean``. ``label`` is the parent's SVM label of this side; an inner node's ``classifier``
    sends a point to the child whose label it predicts; ``children`` are (good, bad)."""

    node_id: int
    indices: np.ndarray
    mean: float
    label: int | None = None
    classifier: SVC | None = None
    children: tuple[Node, ...] = ()


def standardise(values: np.ndarray) -> np.ndarray:
    """``values`` (``n``) in standard deviations from their mean (unit spread if constant)."""
    spread = values.std()
    return (values - values.mean()) / (spread if spread > 0 else 1.0)


def split(points: np.ndarray, scores: np.ndarray, kernel: str, seed: int) -> tuple[SVC, np.ndarray] | None:
    """Learn a boundary (§3.1): the SVM and its label for each point (``m``), or None when the
    points cannot be told apart or the SVM puts them all on one side.

    K-means sees the value scaled to the points' spread in x, so "where" and "how good" weigh
    the same however many dimensions there are.
    """
    if len(np.unique(points, axis=0)) < 2:
        return None
    value_feature = standardise(scores) * np.sqrt(points.var(axis=0).sum())
    clusters = KMeans(2, n_init=KMEANS_RESTARTS, random_state=seed).fit_predict(
        np.column_stack([points, value_feature])
    )
    if np.unique(clusters).size < 2:
        return None
    # gamma="scale" follows the node's spread; the reference's "auto" assumed raw coordinates
    # spanning several units and on the unit cube draws no boundary around a small good region.
    classifier = SVC(kernel=kernel, gamma="scale").fit(points, clusters)
    sides = classifier.predict(points)
    return (classifier, sides) if np.unique(sides).size == 2 else None


def build_tree(
    points: np.ndarray, scores: np.ndarray, leaf_size: int, kernel: str, rng: np.random.Generator
) -> Node:
    """The partition of ``points`` (``n x d``) with standardised values ``scores`` (``n``);
    node ids in depth-first order, good child first. K-means seeds come from ``rng``, so the
    same history and RNG state rebuild the same tree."""
    ids = itertools.count()

    def grow(indices: np.ndarray, label: int | None) -> Node:
        node_id, mean = next(ids), float(scores[indices].mean())
        found = None
        if len(indices) >= leaf_size:
            found = split(points[indices], scores[indices], kernel, int(rng.integers(2**31 - 1)))
        if found is None:
            return Node(node_id, indices, mean, label)
        classifier, sides = found
        good = min((0, 1), key=lambda side: scores[indices[sides == side]].mean())
        children = tuple(grow(indices[sides == side], side) for side in (good, 1 - good))
        return Node(node_id, indices, mean, label, classifier, children)

    return grow(np.arange(len(points)), None)


def ucb(child: Node, parent: Node, exploration: float) -> float:
    """UCB1 for minimisation (§3.2): -mean + Cp sqrt(2 ln n_parent / n_child), the mean in
    standard deviations of the history's values so that Cp does not depend on their units."""
    return -child.mean + exploration * math.sqrt(2.0 * math.log(len(parent.indices)) / len(child.indices))


def select_path(root: Node, exploration: float) -> list[Node]:
    """Root to leaf, taking the child with the higher UCB at every split (the good one on ties)."""
    path = [root]
    while path[-1].children:
        parent = path[-1]
        path.append(max(parent.children, key=lambda child: ucb(child, parent, exploration)))
    return path


def leaf_paths(root: Node) -> Iterator[list[Node]]:
    """Every root-to-leaf path, good sides first."""
    if not root.children:
        yield [root]
    for child in root.children:
        yield from ([root, *path] for path in leaf_paths(child))


def in_region(points: np.ndarray, path: list[Node]) -> np.ndarray:
    """Mask (``n``) of the ``points`` (``n x d``) that every SVM on ``path`` sends down it."""
    inside = np.ones(len(points), dtype=bool)
    for parent, child in zip(path, path[1:]):
        inside &= parent.classifier.predict(points) == child.label
    return inside


def region_candidates(
    path: list[Node], points: np.ndarray, n_candidates: int, dimensions: Sequence[Dimension], seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Distinct candidates inside the leaf's region and all candidates (``N x d`` each).

    Scrambled Sobol points, half over the cube and half in the bounding box of the leaf's
    samples (``points``: ``n x d``, the history), snapped to levels, then kept where the path's
    SVMs agree -- rejection sampling, a simpler cousin of the reference's boxes that grow
    around the leaf's samples until they cross the boundary.
    """
    leaf_points = points[path[-1].indices]
    low, high = leaf_points.min(axis=0), leaf_points.max(axis=0)
    sobol = SobolEngine(len(dimensions), scramble=True, seed=seed).draw(n_candidates).double().numpy()
    half = n_candidates // 2
    raw = np.vstack([sobol[:half], low + (high - low) * sobol[half:]])
    candidates = np.unique(snap_to_levels(raw, dimensions), axis=0)
    return candidates[in_region(candidates, path)], candidates


class LaMCTS(AskTellOptimizer):
    """LA-MCTS minimiser: Latin-hypercube design, then GP Thompson sampling in the UCB leaf.

    The tree is rebuilt from every told point -- asked or not, so a shared initial design told
    first replaces the design -- and failed evaluations (NaN) count as the worst value seen.
    ``last_region_ids`` holds the chosen leaf's node id (-1: design or uniform points).
    """

    strategy = "lamcts"
    config_class = LaMCTSConfig

    def __init__(self, dim: int, seed: int = 0, **kwargs: Any) -> None:
        super().__init__(dim, seed, **kwargs)
        wanted = self.config.n_init or 2 * dim
        self.n_init = wanted if self.max_evaluations is None else min(wanted, max(1, self.max_evaluations // 2))
        self.tree: Node | None = None  # the partition of the last model-guided ask
        self._design: list[list[float]] | None = None
        self._leaves: list[dict] = []

    @property
    def initial_evaluations(self) -> int:
        return self.n_init

    def describe(self) -> list[dict]:
        """Per leaf of the last tree (see ``_describe_leaves``), for a log or a plot."""
        return [dict(leaf) for leaf in self._leaves]

    def _propose(self, n: int) -> tuple[np.ndarray, list[dict]]:
        parts = []
        for source in (self._ask_design, self._ask_leaf, self._ask_uniform):
            missing = n - sum(len(points) for points, _ in parts)
            if missing:
                parts.append(source(missing))
        return np.vstack([points for points, _ in parts]), [o for _, origins in parts for o in origins]

    def _ask_design(self, n: int) -> tuple[np.ndarray, list[dict]]:
        """Up to ``n`` Latin-hypercube points; none when the history was not empty at first ask."""
        if self._design is None:  # decided at the first ask
            self._design = [] if len(self._values) else snap_to_levels(
                latin_hypercube(self.n_init, self.dim, int(self._rng.integers(2**32))), self.dimensions
            ).tolist()
        points = []
        while self._design and len(points) < n:
            point = np.array(self._design.pop(0))
            if self._claim(point):
                points.append(point)
        return np.array(points).reshape(-1, self.dim), [{"region": RANDOM_ORIGIN}] * len(points)

    def _ask_leaf(self, n: int) -> tuple[np.ndarray, list[dict]]:
        """Up to ``n`` points, each the lowest Thompson sample of the leaf's GP over its region."""
        if not len(self._values):
            return np.empty((0, self.dim)), []
        values = fill_failures(self._values, self._values)
        self.tree = build_tree(
            self._points, standardise(values), self.config.leaf_size, self.config.svm_kernel, self._rng
        )
        path = select_path(self.tree, self.config.exploration)
        leaf = path[-1]
        self._leaves = self._describe_leaves(leaf.node_id)
        seed = int(self._rng.integers(2**31 - 1))
        inside, candidates = region_candidates(
            path, self._points, self.config.n_candidates, self.dimensions, seed
        )
        if len(inside) < n:
            logger.debug("LA-MCTS leaf %d: %d candidates in its region; using the unfiltered ones.",
                         leaf.node_id, len(inside))
            inside = candidates
        model = fit_gp(
            torch.from_numpy(self._points[leaf.indices]),
            torch.from_numpy(values[leaf.indices]).unsqueeze(-1),
            TurboConfig(gp_fit_iterations=None),  # fitted fully: capped, it did worse (docs/turbo.md)
            seed,
        )
        generator = torch.Generator().manual_seed(seed)
        samples = thompson_samples(model, torch.from_numpy(inside), n, generator).numpy()
        picks = self._pick_fresh(samples.reshape(n, -1), inside)
        return inside[picks], [{"region": leaf.node_id}] * len(picks)

    def _pick_fresh(self, samples: np.ndarray, candidates: np.ndarray) -> list[int]:
        """Per slot (row of ``samples``, ``n x N``) the lowest-sampled candidate whose key is
        free; each candidate is canonicalised at most once, slots stop when none is left."""
        checked = np.zeros(len(candidates), dtype=bool)
        picks: list[int] = []
        for slot in samples:
            for index in np.argsort(slot):
                if not checked[index]:
                    checked[index] = True
                    if self._claim(candidates[index]):
                        picks.append(int(index))
                        break
            else:
                break
        return picks

    def _ask_uniform(self, n: int) -> tuple[np.ndarray, list[dict]]:
        """Up to ``n`` uniform points: nothing told yet, or the leaf's candidates are all taken."""
        points = self._draw_unique(n, lambda k: uniform_choices(self._rng, k, self.dimensions))
        return points, [{"region": RANDOM_ORIGIN}] * len(points)

    def _describe_leaves(self, chosen: int) -> list[dict]:
        """Per leaf: id, depth, samples, failures, mean of the successes (None if none), chosen."""
        leaves = []
        for path in leaf_paths(self.tree):
            values = self._values[path[-1].indices]
            finite = values[np.isfinite(values)]
            leaves.append({
                "leaf_id": path[-1].node_id,
                "depth": len(path) - 1,
                "n_samples": len(values),
                "n_failed": int(np.isnan(values).sum()),
                "mean_value": float(finite.mean()) if finite.size else None,
                "selected": path[-1].node_id == chosen,
            })
        return leaves

    def _strategy_state(self) -> dict:
        return {
            "n_init": self.n_init,
            "design": self._design,
            "leaves": self.describe(),
        }

    def _load_strategy_state(self, state: dict) -> None:
        self.n_init = state["n_init"]
        self._design = state["design"]
        self._leaves = [dict(leaf) for leaf in state["leaves"]]
