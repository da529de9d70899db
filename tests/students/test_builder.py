"""The builder: decoded architectures become working timm-block modules at any resolution."""

import numpy as np
import pytest
import torch
from timm.models._efficientnet_blocks import EdgeResidual, InvertedResidual, SqueezeExcite
from timm.models.vision_transformer import Block

from trade_pipeline.students.builder import StudentNet
from trade_pipeline.students.space import SearchSpace
from trade_pipeline.students.spec import ArchitectureSpec, ConvBlockSpec, TransformerSpec


@pytest.mark.parametrize("img_size, in_chans, num_classes, points", [(28, 1, 10, 4), (32, 3, 10, 3), (224, 3, 5, 2)])
def test_decoded_points_build_and_classify_at_each_resolution(
    tiny_space_config, img_size, in_chans, num_classes, points
):
    space = SearchSpace.from_config(tiny_space_config).at_resolution(img_size)
    rng = np.random.default_rng(img_size)
    cube = [np.ones(space.dimension), *(rng.random(space.dimension) for _ in range(points - 1))]
    for point in cube:
        model = StudentNet(space.decode(point), in_chans, num_classes, img_size).eval()
        with torch.no_grad():
            logits = model(torch.randn(2, in_chans, img_size, img_size))
        assert logits.shape == (2, num_classes) and torch.isfinite(logits).all()


def _spec(skip: str = "identity", transformer: TransformerSpec | None = None) -> ArchitectureSpec:
    def block(block_type: str, layers: int, width: int, stride: int, se_ratio: float) -> ConvBlockSpec:
        return ConvBlockSpec(block_type, layers, 3, 2, se_ratio, skip, width, stride)

    blocks = (block("fused_mbconv", 2, 8, 1, 0.0), None, block("mbconv", 2, 16, 2, 0.25))
    return ArchitectureSpec(stem_width=8, stem_stride=2, blocks=blocks, transformer=transformer)


def test_block_types_se_and_skip_map_onto_timm_blocks():
    model = StudentNet(_spec(), in_chans=1, num_classes=10, img_size=28)
    fused, mbconv = model.blocks  # the absent middle block adds no stage
    assert [type(layer) for layer in fused] == [EdgeResidual, EdgeResidual]
    assert [type(layer) for layer in mbconv] == [InvertedResidual, InvertedResidual]
    assert not any(isinstance(module, SqueezeExcite) for module in fused.modules())
    assert isinstance(mbconv[0].se, SqueezeExcite) and mbconv[0].se.conv_reduce.out_channels == 2  # 8 * 0.25
    # timm adds the residual only where stride is 1 and the width is unchanged
    assert [layer.has_skip for layer in (*fused, *mbconv)] == [True, True, False, True]
    no_skip = StudentNet(_spec(skip="none"), in_chans=1, num_classes=10, img_size=28)
    assert not any(layer.has_skip for stage in no_skip.blocks for layer in stage)


def test_the_transformer_stage_reads_tokens_of_the_last_feature_map():
    spec = _spec(transformer=TransformerSpec(depth=2, width=24, heads=4, mlp_ratio=2))
    model = StudentNet(spec, in_chans=3, num_classes=7, img_size=32).eval()
    assert sum(isinstance(module, Block) for module in model.modules()) == 2
    assert model.transformer.pos_embed.shape == (1, 8 * 8, 24)  # 32 -> 16 -> 8 pixels as tokens
    features = model.forward_features(torch.randn(2, 3, 32, 32))
    assert features.shape == (2, 64, 24)
    assert model.forward_head(features, pre_logits=True).shape == (2, 24)
    assert model.forward_head(features).shape == (2, 7)


def test_without_transformer_the_conv_map_is_pooled_into_the_head():
    model = StudentNet(_spec(), in_chans=1, num_classes=10, img_size=28).eval()
    assert model.transformer is None and model.num_features == 16
    assert model.forward_features(torch.randn(2, 1, 28, 28)).shape == (2, 16, 7, 7)


def test_spec_json_and_state_dict_rebuild_an_identical_model():
    spec = _spec(transformer=TransformerSpec(depth=1, width=16, heads=2, mlp_ratio=2))
    torch.manual_seed(0)
    original = StudentNet(spec, in_chans=1, num_classes=10, img_size=28).eval()
    torch.manual_seed(1)  # different initial weights, replaced by the loaded ones
    rebuilt = StudentNet(ArchitectureSpec.from_json(spec.to_json()), 1, 10, 28)
    rebuilt.load_state_dict(original.state_dict())
    rebuilt.eval()
    images = torch.randn(2, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(images), original(images), rtol=0, atol=0)


def test_bad_builder_arguments_are_refused_by_name():
    with pytest.raises(ValueError, match="in_chans: expected an integer >= 1, got 0"):
        StudentNet(_spec(), in_chans=0, num_classes=10, img_size=28)


def test_specs_of_one_network_hash_build_the_same_module():
    """The search's de-duplication key equates only specs whose modules compute the same thing."""
    def block(skip: str, stride: int, width: int) -> ConvBlockSpec:
        return ConvBlockSpec(block_type="mbconv", layers=1, kernel_size=3, expansion_ratio=2, se_ratio=0.25,
                             skip=skip, width=width, stride=stride)

    def build(skip: str) -> tuple[ArchitectureSpec, torch.Tensor]:
        spec = ArchitectureSpec(stem_width=8, stem_stride=1, blocks=(block(skip, 2, 8), block(skip, 1, 16)))
        torch.manual_seed(0)
        model = StudentNet(spec, in_chans=1, num_classes=10, img_size=12).eval()
        torch.manual_seed(1)
        return spec, model(torch.randn(2, 1, 12, 12))

    (identity, out_identity), (none, out_none) = build("identity"), build("none")
    assert identity.hash != none.hash and identity.network_hash == none.network_hash
    torch.testing.assert_close(out_identity, out_none, rtol=0, atol=0)
