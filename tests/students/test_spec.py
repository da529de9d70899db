"""The architecture spec: canonical JSON, stable hashing, Table 6 block sequences."""

import numpy as np
import pytest

from trade_pipeline.students.space import SearchSpace
from trade_pipeline.students.spec import ArchitectureSpec, ConvBlockSpec, TransformerSpec


def _block(block_type: str = "mbconv", layers: int = 1, width: int = 16, stride: int = 1, **changes) -> ConvBlockSpec:
    fields = dict(kernel_size=3, expansion_ratio=4, se_ratio=0.25, skip="identity")
    return ConvBlockSpec(block_type=block_type, layers=layers, width=width, stride=stride, **{**fields, **changes})


def _spec(**changes) -> ArchitectureSpec:
    fields = dict(
        stem_width=16,
        stem_stride=2,
        blocks=(_block("fused_mbconv"), _block("fused_mbconv", stride=2), None, _block(), _block(layers=3)),
        transformer=TransformerSpec(depth=2, width=32, heads=4, mlp_ratio=2),
    )
    return ArchitectureSpec(**{**fields, **changes})


def test_block_sequence_follows_table_6_and_omits_absent_blocks():
    assert _spec().block_sequence == "FMB-FMB-MB-MB-T(x2)"
    assert _spec(transformer=None).block_sequence == "FMB-FMB-MB-MB"
    assert _spec(blocks=(None, None), transformer=None).block_sequence == "stem"


def test_equal_architectures_hash_equal_and_different_ones_differ():
    assert _spec() == _spec() and _spec().hash == _spec().hash
    assert len(_spec().hash) == 16 and set(_spec().hash) <= set("0123456789abcdef")
    variants = [
        _spec(stem_width=24),
        _spec(transformer=None),
        _spec(transformer=TransformerSpec(depth=3, width=32, heads=4, mlp_ratio=2)),
        _spec(blocks=(_block(), *_spec().blocks[1:])),
        _spec(blocks=(_block("fused_mbconv", kernel_size=5), *_spec().blocks[1:])),
    ]
    assert len({spec.hash for spec in [_spec(), *variants]}) == len(variants) + 1


def test_integer_and_float_ratios_give_the_same_canonical_json():
    assert _block(expansion_ratio=4) == _block(expansion_ratio=4.0)
    as_float, as_int = _spec(blocks=(_block(expansion_ratio=4.0),)), _spec(blocks=(_block(expansion_ratio=4),))
    assert as_float.to_json() == as_int.to_json()
    assert '"expansion_ratio":4.0' in _spec().to_json() and " " not in _spec().to_json()


def test_json_round_trip_restores_an_equal_spec():
    spec = _spec()
    assert ArchitectureSpec.from_json(spec.to_json()) == spec
    assert ArchitectureSpec.from_dict(spec.to_dict()).hash == spec.hash


def test_irrelevant_fields_of_absent_parts_do_not_change_the_hash():
    data = _spec().to_dict()
    leftovers = {**data["blocks"][0], "layers": 0, "kernel_size": 7}
    with_leftovers = {**data, "blocks": [data["blocks"][0], data["blocks"][1], leftovers, *data["blocks"][3:]],
                      "transformer": {"depth": 0, "width": 999, "heads": 7, "mlp_ratio": 1.5}}
    assert ArchitectureSpec.from_dict(with_leftovers).hash == _spec(transformer=None).hash


def test_cube_points_differing_only_in_an_absent_block_decode_to_one_hash(tiny_space_config):
    space = SearchSpace.from_config(tiny_space_config)
    names = space.dimension_names
    point = np.full(space.dimension, 0.9)
    point[names.index("blocks[1].layers")] = 0.0  # block 1 absent
    other = point.copy()
    for field in ("block_type", "se_ratio", "skip", "width"):
        other[names.index(f"blocks[1].{field}")] = 0.1
    assert space.decode(point).blocks[1] is None
    assert space.decode(point).hash == space.decode(other).hash
    other[names.index("blocks[1].layers")] = 0.9  # now present: the leftovers matter
    assert space.decode(point).hash != space.decode(other).hash


@pytest.mark.parametrize(
    "change, message",
    [
        ({"blocks": [None, {"layers": 1, "block_type": "mbconv", "kernel_size": 4, "expansion_ratio": 4,
                            "se_ratio": 0, "skip": "none", "width": 8, "stride": 1}]},
         r"architecture\.blocks\[1\]\.kernel_size: expected an odd kernel size"),
        ({"blocks": [{"layers": 1, "type": "mbconv"}]}, r"architecture\.blocks\[0\]: unknown key 'type'"),
        ({"transformer": {"depth": 1, "width": 30, "heads": 4, "mlp_ratio": 2}},
         r"architecture\.transformer\.width: 30 is not divisible by heads 4"),
        ({"stem_stride": 3}, r"architecture\.stem_stride: unknown value 3; allowed: 1, 2"),
        ({"extra": 1}, r"architecture: unknown key 'extra'"),
    ],
)
def test_bad_spec_dicts_are_refused_naming_the_entry(change, message):
    with pytest.raises(ValueError, match=message):
        ArchitectureSpec.from_dict({**_spec().to_dict(), **change})


def test_feature_size_uses_the_strides_of_present_blocks_only():
    spec = _spec()  # stem 2, one stride-2 block: 28 -> 14 -> 7
    assert spec.strides == (2, 1, 2, 1, 1)
    assert spec.feature_size(28) == 7 and spec.feature_size(27) == 7


def test_specs_that_differ_only_in_a_skip_timm_never_adds_share_one_network_hash():
    """A one-layer block that changes stride or width has no residual whatever ``skip`` says, so
    the search must not train that network twice; where the residual exists, the skip matters."""
    one_layer = (_block("fused_mbconv", width=16), _block(width=24, stride=1), _block(width=24, stride=2))
    drawn = _spec(blocks=one_layer, transformer=None)  # every skip "identity"
    # block 0: stride 1 from the 16-wide stem, its residual exists; blocks 1 and 2 change width or stride
    inert = _spec(blocks=(one_layer[0], _block(width=24, skip="none"), _block(width=24, stride=2, skip="none")),
                  transformer=None)
    live = _spec(blocks=(_block("fused_mbconv", width=16, skip="none"), *one_layer[1:]), transformer=None)
    two_layers = [_spec(blocks=(*one_layer[:2], _block(layers=2, width=24, stride=2, skip=skip)), transformer=None)
                  for skip in ("identity", "none")]
    assert drawn.hash != inert.hash and drawn.network_hash == inert.network_hash
    assert drawn.network_hash != live.network_hash  # the stem-width block keeps its residual
    assert two_layers[0].network_hash != two_layers[1].network_hash  # its second layer has one
    assert len(drawn.network_hash) == 16
