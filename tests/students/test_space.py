"""The search space: YAML validation, stride adaptation, and the unit-cube encoding."""

from pathlib import Path

import numpy as np
import pytest
import yaml

from trade_pipeline.config import ConfigError
from trade_pipeline.students.space import SearchSpace, SearchSpaceError
from trade_pipeline.students.spec import ArchitectureSpec, downsampled_size

CONF = Path(__file__).resolve().parents[2] / "conf"


def _space_from(env: str) -> SearchSpace:
    parameters = yaml.safe_load((CONF / env / "parameters_search.yml").read_text())
    return SearchSpace.from_config(parameters["search"]["space"])


@pytest.mark.parametrize("env, img_sizes", [("base", (28, 32)), ("paper", (224, 32, 28))])
def test_shipped_spaces_load_and_keep_a_map_of_min_feature_size_at_each_resolution(env, img_sizes):
    space = _space_from(env)
    for img_size in img_sizes:
        strides = space.check_resolution(img_size)
        assert downsampled_size(img_size, strides) >= space.min_feature_size
    rng = np.random.default_rng(0)
    at_size = space.at_resolution(img_sizes[0])
    for spec in (at_size.sample(rng) for _ in range(5)):
        at_size.validate(spec)  # a sampled student belongs to the space at that resolution
        assert spec.feature_size(img_sizes[0]) >= space.min_feature_size


def test_the_paper_space_keeps_its_declared_strides_at_224_and_has_eight_blocks():
    space = _space_from("paper")
    assert len(space.blocks) == 8
    assert space.check_resolution(224) == space.declared_strides
    assert downsampled_size(224, space.check_resolution(224)) == 7


def test_strides_are_dropped_latest_first_until_the_map_reaches_min_feature_size(tiny_space_config):
    space = SearchSpace.from_config(tiny_space_config)  # declared (2, 1, 2, 2), min size 4
    assert space.check_resolution(224) == (2, 1, 2, 2)
    assert space.check_resolution(28) == (2, 1, 2, 2)  # 28 -> 14 -> 7 -> 4
    assert space.check_resolution(16) == (2, 1, 2, 1)  # 16 -> 8 -> 4, not 2
    assert space.check_resolution(8) == (2, 1, 1, 1)
    assert space.check_resolution(4) == (1, 1, 1, 1)


def test_a_resolution_below_min_feature_size_is_refused_with_the_fix(tiny_space_config):
    space = SearchSpace.from_config(tiny_space_config)
    with pytest.raises(SearchSpaceError, match=r"search\.space\.min_feature_size: 3x3 .* at most 3"):
        space.check_resolution(3)


def test_decoded_specs_carry_the_strides_of_the_resolution(tiny_space_config):
    space = SearchSpace.from_config(tiny_space_config).at_resolution(16)
    spec = space.decode(np.ones(space.dimension))  # every block present
    assert spec.strides == (2, 1, 2, 1)
    assert spec.feature_size(16) == 4


def _set(config, path, value):
    *parents, last = path
    for key in parents:
        config = config[key]
    config[last] = value


@pytest.mark.parametrize(
    "path, value, message",
    [
        (("blocks", 1, "block_type"), ["mbconv", "foo"],
         r"search\.space\.blocks\.1\.block_type: choice 1: unknown value 'foo'; allowed: mbconv, fused_mbconv"),
        (("blocks", 0, "kernel"), [3],
         r"search\.space\.blocks\.0\.kernel: unknown key \(did you mean 'kernel_size'\?\)"),
        (("stem", "depth"), [1], r"search\.space\.stem\.depth: unknown key"),
        (("blocks", 2, "width"), [], r"search\.space\.blocks\.2\.width: .*at least 1 item"),
        (("blocks", 2, "width"), [16, 0], r"search\.space\.blocks\.2\.width: choice 1: expected an integer >= 1, got 0"),
        (("stem", "width"), [-8], r"search\.space\.stem\.width: choice 0: expected an integer >= 1"),
        (("transformer", "depth"), [-1], r"search\.space\.transformer\.depth: choice 0: expected an integer >= 0"),
        (("blocks", 1, "stride"), 3, r"search\.space\.blocks\.1\.stride: Input should be 1 or 2"),
        (("blocks", 0, "kernel_size"), [3, 4], r"search\.space\.blocks\.0\.kernel_size: choice 1: expected an odd"),
        (("blocks", 0, "se_ratio"), [0, 1.5],
         r"search\.space\.blocks\.0\.se_ratio: choice 1: expected a number in \[0\.0, 1\.0\]"),
        (("blocks", 0, "expansion_ratio"), [0],
         r"search\.space\.blocks\.0\.expansion_ratio: choice 0: expected a number in \(0\.0"),
        (("blocks", 0, "skip"), ["residual"],
         r"search\.space\.blocks\.0\.skip: choice 0: unknown value 'residual'; allowed: identity, none"),
        (("blocks", 0, "layers"), [1, 1], r"search\.space\.blocks\.0\.layers: duplicate choice 1"),
        (("blocks", 0, "width"), 8, r"search\.space\.blocks\.0\.width: Input should be a valid tuple"),
        (("transformer", "width"), [8, 12], r"search\.space\.transformer: width 12 is not divisible by heads 8"),
        (("transformer", "heads"), [3], r"search\.space\.transformer: width 8 is not divisible by heads 3"),
        (("min_feature_size",), 0, r"search\.space\.min_feature_size: .*greater than or equal to 1"),
        (("extra",), 1, r"search\.space\.extra: unknown key"),
    ],
)
def test_each_bad_space_entry_is_refused_naming_it(tiny_space_config, path, value, message):
    if path[:2] == ("transformer", "width"):
        tiny_space_config["transformer"]["heads"] = [2, 8]
    _set(tiny_space_config, path, value)
    with pytest.raises(ConfigError, match=message):
        SearchSpace.from_config(tiny_space_config)


def test_a_missing_key_and_too_many_blocks_are_refused(tiny_space_config):
    config = dict(tiny_space_config, blocks=[dict(tiny_space_config["blocks"][0])] * 9)
    with pytest.raises(ConfigError, match=r"search\.space\.blocks: .*at most 8 items"):
        SearchSpace.from_config(config)
    del tiny_space_config["blocks"][1]["width"]
    with pytest.raises(ConfigError, match=r"search\.space\.blocks\.1\.width: Field required"):
        SearchSpace.from_config(tiny_space_config)


def test_each_coordinate_knows_its_kind_and_number_of_choices(tiny_space_config):
    space = SearchSpace.from_config(tiny_space_config)
    kinds = dict(zip(space.dimension_names, space.dimensions))
    assert kinds["blocks[0].block_type"].kind == "categorical" and kinds["stem.width"].kind == "ordinal"
    assert kinds["transformer.depth"].levels == len(tiny_space_config["transformer"]["depth"])


def test_heads_need_not_divide_widths_when_the_transformer_is_never_used(tiny_space_config):
    tiny_space_config["transformer"] = {"depth": [0], "width": [10], "heads": [3], "mlp_ratio": [4]}
    space = SearchSpace.from_config(tiny_space_config)
    assert space.sample(np.random.default_rng(0)).transformer is None


def test_only_fields_with_several_choices_are_cube_coordinates(tiny_space_config):
    space = SearchSpace.from_config(tiny_space_config)
    assert "blocks[0].width" not in space.dimension_names  # a single choice: fixed
    assert space.dimension_names[:2] == ("stem.width", "blocks[0].layers")
    assert space.dimension == len(space.dimension_names) == 17


def test_every_cube_point_decodes_and_re_encoding_is_stable(tiny_space_config):
    space = SearchSpace.from_config(tiny_space_config).at_resolution(28)
    rng = np.random.default_rng(0)
    points = [rng.random(space.dimension) for _ in range(50)]
    points += [np.zeros(space.dimension), np.ones(space.dimension), np.full(space.dimension, 2.0)]
    for point in points:
        spec = space.decode(point)
        encoded = space.encode(spec)
        assert encoded.shape == (space.dimension,) and np.all((encoded > 0) & (encoded < 1))
        assert space.decode(encoded) == spec


def test_numeric_choices_are_sorted_so_neighbouring_bins_hold_neighbouring_values(tiny_space_config):
    tiny_space_config["blocks"][0]["kernel_size"] = [5, 3]
    space = SearchSpace.from_config(tiny_space_config)
    assert space.blocks[0].kernel_size == (3, 5)
    assert space.blocks[0].block_type == ("fused_mbconv", "mbconv")  # categorical: kept in order


def test_sampling_covers_each_choice_and_stays_in_the_space(tiny_space_config):
    space = SearchSpace.from_config(tiny_space_config).at_resolution(32)
    rng = np.random.default_rng(1)
    specs = [space.sample(rng) for _ in range(200)]
    for spec in specs:
        space.validate(spec)
    assert {spec.stem_width for spec in specs} == {4, 8}
    assert {spec.blocks[1] is None for spec in specs} == {True, False}
    assert {0 if spec.transformer is None else spec.transformer.depth for spec in specs} == {0, 1, 2}


def test_a_spec_outside_the_space_is_refused(tiny_space_config):
    space = SearchSpace.from_config(tiny_space_config).at_resolution(16)
    spec = space.decode(np.ones(space.dimension))
    other_width = ArchitectureSpec.from_dict({**spec.to_dict(), "stem_width": 16})
    message = r"value 16 for search\.space\.stem\.width is not among its choices \[4, 8\]"
    with pytest.raises(SearchSpaceError, match=message):
        space.encode(other_width)
    fewer_blocks = ArchitectureSpec(spec.stem_width, spec.stem_stride, spec.blocks[:2], spec.transformer)
    with pytest.raises(SearchSpaceError, match="has 2 conv blocks but search.space.blocks has 3"):
        space.validate(fewer_blocks)
    at_224 = SearchSpace.from_config(tiny_space_config).at_resolution(224).decode(np.ones(space.dimension))
    with pytest.raises(SearchSpaceError, match="decode the spec from a space at the same resolution"):
        space.validate(at_224)


def test_decode_refuses_points_of_the_wrong_shape_or_with_nan(tiny_space_config):
    space = SearchSpace.from_config(tiny_space_config)
    with pytest.raises(ValueError, match=r"expected a point of shape \(17,\)"):
        space.decode(np.zeros(3))
    with pytest.raises(ValueError, match="non-finite"):
        space.decode(np.full(space.dimension, np.nan))


@pytest.mark.parametrize("env", ["base", "paper"])
def test_points_equal_after_canonicalisation_are_the_same_architecture(env) -> None:
    import torch

    from trade_pipeline.optim.mixed import MixedSpace

    space = _space_from(env).at_resolution(28)
    cube = MixedSpace.from_dimensions(space.dimensions)
    assert cube.conditions  # both spaces have optional blocks and an optional Transformer
    points = np.random.default_rng(0).random((300, space.dimension))
    canonical = cube.canonical(torch.from_numpy(points)).numpy()
    assert [space.decode(p).hash for p in points] == [space.decode(p).hash for p in canonical]
    # and canonical points differ exactly when their architectures do
    assert len({p.tobytes() for p in canonical}) == len({space.decode(p).hash for p in points})
