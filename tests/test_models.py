"""Model specs: JSON-able dicts rebuild searched students and any timm model."""

import json

import pytest
import torch

from trade_pipeline.models import ModelArtifact, build_model, student_model_spec, timm_model_spec
from trade_pipeline.students.spec import ArchitectureSpec, ConvBlockSpec, TransformerSpec

STUDENT = ArchitectureSpec(
    stem_width=8,
    stem_stride=2,
    blocks=(ConvBlockSpec("fused_mbconv", 1, 3, 2, 0.0, "identity", 8, 1), None,
            ConvBlockSpec("mbconv", 1, 3, 2, 0.25, "identity", 16, 2)),
    transformer=TransformerSpec(depth=1, width=16, heads=2, mlp_ratio=2),
)


def test_a_student_model_spec_survives_json_and_rebuilds_the_same_network():
    model_spec = student_model_spec(STUDENT, in_chans=1, num_classes=10, img_size=28)
    assert model_spec["family"] == "student" and model_spec["architecture"] == STUDENT.to_dict()
    original = build_model(model_spec).eval()
    rebuilt = build_model(json.loads(json.dumps(model_spec)))
    rebuilt.load_state_dict(original.state_dict())
    images = torch.randn(2, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(rebuilt.eval()(images), original(images), rtol=0, atol=0)
    artifact = ModelArtifact(model_spec=model_spec, model=original)
    assert artifact.model is original


def test_timm_cnn_takes_the_datasets_channels_and_classes():
    model_spec = timm_model_spec("resnet18", in_chans=1, num_classes=10, img_size=28)
    assert model_spec == {"family": "timm", "name": "resnet18", "in_chans": 1, "num_classes": 10,
                          "img_size": 28, "kwargs": {}}
    with torch.no_grad():
        assert build_model(model_spec).eval()(torch.randn(2, 1, 28, 28)).shape == (2, 10)


def test_timm_vit_is_sized_for_small_images_through_img_size_and_kwargs():
    model_spec = timm_model_spec("vit_tiny_patch16_224", in_chans=1, num_classes=10, img_size=28, patch_size=4)
    model = build_model(model_spec).eval()
    assert model.patch_embed.num_patches == 49
    with torch.no_grad():
        assert model(torch.randn(2, 1, 28, 28)).shape == (2, 10)


def test_an_unknown_timm_name_suggests_close_matches():
    with pytest.raises(ValueError, match=r"timm has no model 'resnet_18'; close matches: .*resnet18"):
        timm_model_spec("resnet_18", in_chans=3, num_classes=10, img_size=32)
    with pytest.raises(ValueError, match="timm has no model 'vit_tiny_patch16'"):
        build_model({"family": "timm", "name": "vit_tiny_patch16", "in_chans": 3, "num_classes": 10,
                     "img_size": 32, "kwargs": {}})


@pytest.mark.parametrize(
    "model_spec, message",
    [
        ({"family": "keras"}, r"model_spec\.family: unknown value 'keras'; allowed: student, timm"),
        ({"family": "timm", "name": "resnet18"}, r"model_spec \(timm\): missing key 'in_chans'"),
        ({**student_model_spec(STUDENT, 1, 10, 28), "weights": "x"}, r"model_spec \(student\): unknown key 'weights'"),
        ({**student_model_spec(STUDENT, 1, 10, 28), "architecture": {**STUDENT.to_dict(), "stem_width": 0}},
         r"model_spec\.architecture\.stem_width: expected an integer >= 1"),
    ],
)
def test_bad_model_specs_are_refused_naming_the_problem(model_spec, message):
    with pytest.raises(ValueError, match=message):
        build_model(model_spec)


def test_timm_kwargs_cannot_override_the_specs_own_fields():
    with pytest.raises(ValueError, match="'pretrained' is set by the model spec itself"):
        timm_model_spec("resnet18", in_chans=3, num_classes=10, img_size=32, pretrained=True)


def test_dropout_and_stochastic_depth_are_training_settings_of_the_spec():
    """conf/paper's EdgeTPU recipe: dropout 0.2 before the head and drop-path 0.2, rising over the
    layers; evaluation is unchanged and a spec without them keeps its identity."""
    from timm.layers import DropPath

    from trade_pipeline.models import with_regularisation

    plain = student_model_spec(STUDENT, in_chans=1, num_classes=10, img_size=28)
    assert with_regularisation(plain, 0.0, 0.0) is plain
    regularised = with_regularisation(plain, 0.2, 0.2)
    assert (regularised["drop_rate"], regularised["drop_path_rate"]) == (0.2, 0.2)
    model = build_model(json.loads(json.dumps(regularised)))
    rates = [module.drop_prob for module in model.modules() if isinstance(module, DropPath)]
    # three layers at 0, 0.1, 0.2: the second conv layer's path, then the Transformer block's two
    assert rates == pytest.approx([0.1, 0.2, 0.2])
    reference = build_model(plain)
    reference.load_state_dict(model.state_dict())
    images = torch.randn(4, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(images), reference.eval()(images), rtol=0, atol=0)
        torch.manual_seed(0)
        assert not torch.equal(model.train()(images), reference.train()(images))
    timm_spec = with_regularisation(timm_model_spec("resnet10t", 1, 10, 28), 0.2, 0.1)
    assert timm_spec["kwargs"] == {"drop_rate": 0.2, "drop_path_rate": 0.1}
    assert build_model(timm_spec).drop_rate == 0.2
