"""Params and MACs from the spec alone equal those of the built student."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from trade_pipeline.models import build_model, student_model_spec
from trade_pipeline.profiling import count_macs, count_params
from trade_pipeline.students.costs import StudentCostTable
from trade_pipeline.students.space import SearchSpace


BASE_SPACE = yaml.safe_load((Path(__file__).parents[2] / "conf/base/parameters_search.yml").read_text())["search"]["space"]


@pytest.mark.parametrize("which", ["tiny", "conf/base"])
def test_the_part_table_gives_exactly_the_built_students_params_and_macs(tiny_space_config, which) -> None:
    space = SearchSpace.from_config(tiny_space_config if which == "tiny" else BASE_SPACE).at_resolution(28)
    table = StudentCostTable(in_chans=1, num_classes=10, img_size=28)
    rng = np.random.default_rng(0)
    for _ in range(16):
        spec = space.sample(rng)
        model = build_model(student_model_spec(spec, 1, 10, 28))
        assert table(spec) == (count_params(model), count_macs(model, (1, 1, 28, 28))), spec.block_sequence
