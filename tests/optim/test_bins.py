"""The cube's one binning rule, shared by the search space, the cost model and the optimizers."""
from __future__ import annotations

import numpy as np
import torch

from trade_pipeline.optim.base import Dimension, bin_levels
from trade_pipeline.optim.mixed import MixedSpace
from trade_pipeline.students.space import SearchSpace

from ..search.conftest import TINY_SPACE


def test_level_k_owns_k_over_n_to_k_plus_one_over_n_and_the_last_also_one() -> None:
    values = np.array([0.0, 0.2499, 0.25, 0.5, 0.999, 1.0, -0.1, 1.1])
    expected = [0, 0, 1, 2, 3, 3, 0, 3]  # 4 levels, by hand; outside [0, 1] clipped
    assert bin_levels(values, 4).tolist() == expected
    assert bin_levels(torch.from_numpy(values), 4).tolist() == expected
    assert Dimension("ordinal", 4).level(values).tolist() == expected


def test_the_space_and_the_optimizers_bin_a_point_alike() -> None:
    space = SearchSpace.from_config(TINY_SPACE)
    points = np.random.default_rng(0).random((200, space.dimension))
    points[:, 0] = np.linspace(0.0, 1.0, 200)  # bin edges included
    mixed = MixedSpace.from_dimensions(space.dimensions)
    snapped = mixed.snap_array(points)
    # a point and its snapped bin centre decode to the same student
    assert [spec.hash for spec in space.decode_many(points)] == [spec.hash for spec in space.decode_many(snapped)]
    for j, dimension in enumerate(space.dimensions):
        if dimension.discrete:
            assert (mixed.level(torch.from_numpy(points))[:, j].numpy() == dimension.level(points[:, j])).all()
