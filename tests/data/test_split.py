"""The split invariants users rely on: sizes, stratification, determinism, disjointness."""
from __future__ import annotations

import numpy as np
import pytest

from trade_pipeline.config import ConfigError
from trade_pipeline.data.config import DataParams
from trade_pipeline.data.sources import DataError, load_source
from trade_pipeline.data.split import Split, make_split, stratified_fraction
from trade_pipeline.serialization import load_array_dict, save_array_dict


def _split(**overrides):
    params = DataParams.model_validate(overrides)
    return make_split(params, load_source(params)), load_source(params)


def test_embedded_default_has_paper_like_sizes_and_balanced_test_set():
    split, source = _split()
    assert (len(split.test), len(split.mini_val), len(split.mini_train)) == (1000, 1000, 3000)
    labels = source.labels["all"]
    assert np.bincount(labels[split.test], minlength=10).tolist() == [100] * 10
    assert np.bincount(split.labels("mini_val"), minlength=10).tolist() == [100] * 10
    assert split.classes == tuple(str(k) for k in range(10)) and split.num_classes == 10
    assert split.input_shape(8) == (8, 1, 28, 28)
    assert 0.1 < split.mean[0] < 0.15 and 0.28 < split.std[0] < 0.33  # MNIST statistics


def test_parts_are_disjoint_and_cover_the_pool():
    split, _ = _split()
    parts = [set(split.indices(p).tolist()) for p in ("test", "mini_val", "mini_train")]
    assert not (parts[0] & parts[1]) and not (parts[0] & parts[2]) and not (parts[1] & parts[2])
    assert len(parts[0] | parts[1] | parts[2]) == 5000
    assert set(split.indices("train").tolist()) == parts[1] | parts[2]  # the retrain's training data


def test_same_seed_gives_identical_indices_and_another_seed_does_not():
    first, _ = _split(seed=3)
    again, _ = _split(seed=3)
    other, _ = _split(seed=4)
    for part in ("test", "mini_val", "mini_train"):
        np.testing.assert_array_equal(first.indices(part), again.indices(part))
    assert first.fingerprint == again.fingerprint != other.fingerprint
    assert not np.array_equal(first.test, other.test)


def test_a_fraction_of_mini_train_is_a_stratified_deterministic_subset():
    split, source = _split()
    proxy = stratified_fraction(split, "mini_train", 0.2, seed=0)
    assert len(proxy) == 600 and set(proxy) <= set(split.mini_train)
    assert np.bincount(source.labels["all"][proxy], minlength=10).tolist() == [60] * 10
    np.testing.assert_array_equal(proxy, stratified_fraction(split, "mini_train", 0.2, seed=0))
    np.testing.assert_array_equal(stratified_fraction(split, "mini_train", 1.0, seed=0), split.mini_train)


def test_a_split_round_trips_through_its_file_format(tmp_path):
    split, _ = _split()
    save_array_dict(tmp_path / "split.npz", split.to_dict())
    loaded = Split.from_dict(load_array_dict(tmp_path / "split.npz"))
    assert loaded.fingerprint == split.fingerprint and loaded.source == split.source
    np.testing.assert_array_equal(loaded.mini_train, split.mini_train)


def test_a_split_saved_by_the_previous_version_still_loads(tmp_path):
    split, _ = _split()
    old = {**split.to_dict(), "proxy_train": split.mini_train[:300], "fingerprint": "0123456789abcdef",
           "source": {"dataset": "embedded_mnist", "root": None, "seed": 42, "proxy_fraction": 0.1,
                      "pools": {"test": "all", "mini_val": "all", "mini_train": "all", "proxy_train": "all"}}}
    save_array_dict(tmp_path / "old.npz", old)
    loaded = Split.from_dict(load_array_dict(tmp_path / "old.npz"))
    assert loaded.fingerprint == "0123456789abcdef"  # teacher logits cached on it stay valid
    np.testing.assert_array_equal(loaded.labels("mini_val"), split.labels("mini_val"))


def test_digits_source_splits_with_explicit_sizes():
    split, source = _split(dataset="digits", n_test=300, n_mini_val=300, n_mini_train=900)
    assert (len(split.test), len(split.mini_val), len(split.mini_train)) == (300, 300, 900)
    assert source.native_size == 8 and source.images["all"].max() == 255


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"dataset": "mnist_big"}, "data.dataset"),
        ({"proxy_fraction": 0.5}, "data.proxy_fraction: moved to search.proxy.data_fraction"),
        ({"n_mini_val": 0}, "data.n_mini_val"),
        ({"image_size": 2}, "data.image_size"),
        ({"n_tets": 5}, "data.n_tets: unknown key .did you mean 'n_test'"),
        ({"dataset": "cifar10"}, "data.root"),
        ({"dataset": "digits", "n_test": None}, "data.n_test"),
    ],
)
def test_bad_parameters_are_named_before_any_work(overrides, named):
    with pytest.raises(ConfigError, match=named):
        DataParams.model_validate(overrides)


def test_more_mini_val_than_training_images_is_refused():
    with pytest.raises(DataError, match="data.n_mini_val=4500"):
        _split(n_mini_val=4500)


def test_more_mini_train_than_remaining_images_is_refused():
    with pytest.raises(DataError, match="data.n_mini_train=3500"):
        _split(n_mini_train=3500)
