"""The split invariants users rely on: sizes, stratification, determinism, disjointness."""
from __future__ import annotations

import numpy as np
import pytest

from trade_pipeline.config import ConfigError, parse_params
from trade_pipeline.data.config import DataParams
from trade_pipeline.data.sources import DataError, load_source
from trade_pipeline.data.split import make_split


def _split(**overrides):
    params = parse_params(DataParams, overrides, "data")
    return make_split(params, load_source(params)), load_source(params)


def test_embedded_default_has_paper_like_sizes_and_balanced_test_set():
    split, source = _split()
    assert (len(split["test"]), len(split["mini_val"]), len(split["mini_train"])) == (1000, 1000, 3000)
    labels = source.labels["all"]
    assert np.bincount(labels[split["test"]], minlength=10).tolist() == [100] * 10
    assert np.bincount(labels[split["mini_val"]], minlength=10).tolist() == [100] * 10
    assert split["classes"] == [str(k) for k in range(10)]
    assert (split["image_size"], split["channels"]) == (28, 1)
    assert 0.1 < split["mean"][0] < 0.15 and 0.28 < split["std"][0] < 0.33  # MNIST statistics


def test_parts_are_disjoint_and_cover_the_pool():
    split, _ = _split()
    parts = [set(split[p].tolist()) for p in ("test", "mini_val", "mini_train")]
    assert not (parts[0] & parts[1]) and not (parts[0] & parts[2]) and not (parts[1] & parts[2])
    assert len(parts[0] | parts[1] | parts[2]) == 5000


def test_same_seed_gives_identical_indices_and_another_seed_does_not():
    first, _ = _split(seed=3)
    again, _ = _split(seed=3)
    other, _ = _split(seed=4)
    for part in ("test", "mini_val", "mini_train", "proxy_train"):
        np.testing.assert_array_equal(first[part], again[part])
    assert first["fingerprint"] == again["fingerprint"] != other["fingerprint"]
    assert not np.array_equal(first["test"], other["test"])


def test_proxy_fraction_is_a_stratified_subset_of_mini_train():
    split, source = _split(proxy_fraction=0.2)
    assert len(split["proxy_train"]) == 600
    assert set(split["proxy_train"]) <= set(split["mini_train"])
    assert np.bincount(source.labels["all"][split["proxy_train"]], minlength=10).tolist() == [60] * 10


def test_digits_source_splits_with_explicit_sizes():
    split, source = _split(dataset="digits", n_test=300, n_mini_val=300, n_mini_train=900)
    assert (len(split["test"]), len(split["mini_val"]), len(split["mini_train"])) == (300, 300, 900)
    assert source.native_size == 8 and source.images["all"].max() == 255


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"dataset": "mnist_big"}, "data.dataset"),
        ({"proxy_fraction": 0.0}, "data.proxy_fraction"),
        ({"proxy_fraction": 1.5}, "data.proxy_fraction"),
        ({"n_mini_val": 0}, "data.n_mini_val"),
        ({"image_size": 2}, "data.image_size"),
        ({"n_tets": 5}, "data.n_tets"),
        ({"dataset": "cifar10"}, "data.root"),
        ({"dataset": "digits", "n_test": None}, "data.n_test"),
    ],
)
def test_bad_parameters_are_named_before_any_work(overrides, named):
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        parse_params(DataParams, overrides, "data")


def test_more_mini_val_than_training_images_is_refused():
    with pytest.raises(DataError, match="data.n_mini_val=4500"):
        _split(n_mini_val=4500)


def test_more_mini_train_than_remaining_images_is_refused():
    with pytest.raises(DataError, match="data.n_mini_train=3500"):
        _split(n_mini_train=3500)
