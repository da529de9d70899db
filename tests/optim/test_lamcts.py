"""LA-MCTS: learnt partitions, UCB selection, sampling inside the leaf, dedup, resume, beats random."""

import logging

import numpy as np
import pytest

from trade_pipeline.optim import RandomSearch
from trade_pipeline.optim.base import Dimension
from trade_pipeline.optim.lamcts import (
    LaMCTS,
    LaMCTSConfig,
    Node,
    build_tree,
    in_region,
    leaf_paths,
    region_candidates,
    select_path,
    standardise,
    ucb,
)

MIXED = (Dimension("ordinal", 4), Dimension("categorical", 3), Dimension())
TOY = (Dimension("ordinal", 6),) * 6 + (Dimension("categorical", 4),) * 2
TOY_TARGET = np.array([2, 5, 1, 0, 3, 4])
TOY_CATEGORY_COST = np.array([[2.0, 1.0, 0.0, 3.0], [0.0, 3.0, 1.5, 2.5]])


def toy_levels(points: np.ndarray) -> np.ndarray:
    return np.column_stack([dimension.level(points[:, j]) for j, dimension in enumerate(TOY)])


def toy(points: np.ndarray) -> np.ndarray:
    """log(1 + cost) of 6 ordinal and 2 categorical choices (minimum 0), like log(Score)."""
    chosen = toy_levels(points)
    cost = ((chosen[:, :6] - TOY_TARGET) ** 2).sum(axis=1)
    return np.log1p(cost + TOY_CATEGORY_COST[0, chosen[:, 6]] + TOY_CATEGORY_COST[1, chosen[:, 7]])


def toy_key(point: np.ndarray) -> tuple:
    return tuple(toy_levels(point[None])[0].tolist())


def good_strip(points: np.ndarray) -> np.ndarray:
    """0 on the strip x0 < 0.3, 1 elsewhere, with a gentle slope: a clear good region."""
    return np.where(points[:, 0] < 0.3, 0.0, 1.0) + 0.1 * points[:, 1]


def minimise(optimizer, objective, budget: int, batch_size: int) -> np.ndarray:
    while len(optimizer.values) < budget:
        points = optimizer.ask(min(batch_size, budget - len(optimizer.values)))
        optimizer.tell(points, objective(points))
    return optimizer.values


def test_root_splits_and_the_good_child_holds_the_good_region_with_the_lower_mean():
    points = np.random.default_rng(0).random((80, 2))
    root = build_tree(points, standardise(good_strip(points)), 20, "rbf", np.random.default_rng(1))
    good, bad = root.children
    assert good.mean < bad.mean
    assert (points[good.indices, 0] < 0.3).mean() > 0.9 and (points[bad.indices, 0] >= 0.3).mean() > 0.9
    assert sorted(np.concatenate([good.indices, bad.indices])) == list(range(80))
    leaves = [path[-1] for path in leaf_paths(root)]
    assert sorted(np.concatenate([leaf.indices for leaf in leaves])) == list(range(80))  # a partition
    assert all(len(node.indices) >= 20 for path in leaf_paths(root) for node in path[:-1])  # only big nodes split


def test_a_node_below_leaf_size_is_a_leaf():
    points = np.random.default_rng(0).random((19, 2))
    root = build_tree(points, standardise(good_strip(points)), 20, "rbf", np.random.default_rng(1))
    assert root.children == () and root.classifier is None


def test_ucb_prefers_the_less_visited_child_when_exploration_outweighs_its_worse_mean():
    good = Node(1, np.arange(90), mean=-0.1, label=0)
    bad = Node(2, np.arange(10), mean=0.1, label=1)
    parent = Node(0, np.arange(100), mean=-0.08, children=(good, bad))
    # -mean + Cp sqrt(2 ln 100 / n): 0.1 + 0.320 Cp against -0.1 + 0.960 Cp, equal at Cp = 0.31
    assert ucb(good, parent, 1.0) == pytest.approx(0.1 + np.sqrt(2 * np.log(100) / 90))
    assert select_path(parent, exploration=1.0)[-1] is bad
    assert select_path(parent, exploration=0.2)[-1] is good


def test_candidates_and_leaf_samples_satisfy_every_svm_decision_on_their_path():
    points = np.random.default_rng(2).random((120, 2))
    values = ((points - 0.2) ** 2).sum(axis=1)
    root = build_tree(points, standardise(values), 20, "rbf", np.random.default_rng(3))
    paths = list(leaf_paths(root))
    assert max(len(path) for path in paths) >= 3  # at least two decisions to satisfy
    for seed, path in enumerate(paths):
        inside, everything = region_candidates(path, points, 400, (Dimension(),) * 2, seed)
        assert len(inside) > 0 and len(everything) >= len(inside)
        for parent, child in zip(path, path[1:]):
            assert (parent.classifier.predict(inside) == child.label).all()
        assert in_region(points[path[-1].indices], path).all()
        assert in_region(everything, path).sum() == len(inside)


def test_told_points_replace_the_design_and_proposals_lie_in_the_ucb_leafs_region():
    optimizer = LaMCTS(2, seed=0, leaf_size=10, n_candidates=200)
    shared_design = np.random.default_rng(4).random((40, 2))  # told first, never asked
    values = good_strip(shared_design)
    values[[3, 7]] = np.nan
    optimizer.tell(shared_design, values)
    points = optimizer.ask(4)

    path = select_path(optimizer.tree, optimizer.config.exploration)
    assert len(path) >= 2 and points.shape == (4, 2)
    assert optimizer.last_region_ids == [path[-1].node_id] * 4  # no design point (-1)
    assert in_region(points, path).all()
    leaves = optimizer.describe()
    assert [leaf["leaf_id"] for leaf in leaves if leaf["selected"]] == [path[-1].node_id]
    assert sum(leaf["n_samples"] for leaf in leaves) == 40 and sum(leaf["n_failed"] for leaf in leaves) == 2


def test_starts_with_a_latin_hypercube_of_n_init_points():
    optimizer = LaMCTS(3, seed=0, n_init=5, n_candidates=100)
    design = optimizer.ask(7)
    assert optimizer.last_region_ids == [-1] * 7  # 5 design points, 2 uniform (nothing told yet)
    for j in range(3):  # one design point per fifth of every axis
        assert sorted((design[:5, j] * 5).astype(int)) == [0, 1, 2, 3, 4]


def test_proposals_are_in_the_cube_with_discrete_coordinates_at_bin_centres():
    optimizer = LaMCTS(3, seed=0, dimensions=MIXED, n_init=4, leaf_size=6, n_candidates=100)
    for _ in range(4):
        points = optimizer.ask(3)
        assert points.shape == (3, 3) and ((points >= 0) & (points <= 1)).all()
        for j, dimension in enumerate(MIXED[:2]):
            np.testing.assert_allclose(points[:, j], dimension.centre(dimension.level(points[:, j])))
        optimizer.tell(points, points.sum(axis=1))
    assert set(optimizer.last_region_ids) != {-1}  # model-guided by now


def test_never_reproposes_a_key_and_stops_short_when_the_space_is_exhausted(caplog):
    small = (Dimension("ordinal", 3), Dimension("categorical", 3))  # 9 distinct keys
    def key(point):
        return tuple(dimension.level(point[j : j + 1])[0] for j, dimension in enumerate(small))

    optimizer = LaMCTS(2, seed=0, dimensions=small, canonicalize=key, n_init=3, leaf_size=4, n_candidates=64)
    keys = []
    with caplog.at_level(logging.WARNING, logger="trade_pipeline.optim"):
        for _ in range(4):
            points = optimizer.ask(3)
            keys += [key(point) for point in points]
            optimizer.tell(points, points.sum(axis=1))
    assert len(keys) == len(set(keys)) == 9
    assert "search space looks exhausted" in caplog.text


def test_lamcts_beats_random_search_on_a_discrete_toy_at_equal_budget():
    budget, seeds = 60, range(3)
    lamcts = [  # leaf_size 10: a 60-evaluation budget splits a few times, and small leaf GPs are quick
        minimise(LaMCTS(8, seed, dimensions=TOY, canonicalize=toy_key, leaf_size=10, n_candidates=300),
                 toy, budget, 10).min()
        for seed in seeds
    ]
    random = [minimise(RandomSearch(8, seed, canonicalize=toy_key), toy, budget, 10).min() for seed in seeds]
    assert all(m < r for m, r in zip(lamcts, random)), (lamcts, random)
    assert np.mean(lamcts) < np.mean(random), (lamcts, random)


def test_settings_are_validated_and_n_init_defaults_to_twice_the_dimension_within_half_the_budget():
    with pytest.raises(ValueError, match="svm_kernel"):
        LaMCTS(2, svm_kernel="poly")
    assert LaMCTS(6, max_evaluations=100).initial_evaluations == 12
    assert LaMCTS(6, max_evaluations=10).initial_evaluations == 5
    assert LaMCTS(6, config=LaMCTSConfig(n_init=7)).n_init == 7
