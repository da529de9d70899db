"""Loaders yield (images, labels, source indices) that agree with the split and the source."""
from __future__ import annotations

import numpy as np
import torch

from trade_pipeline.data.config import DataParams
from trade_pipeline.data.loaders import make_loader
from trade_pipeline.data.sources import load_source
from trade_pipeline.data.split import make_split


def _embedded_split(**values):
    params = DataParams.model_validate(values)
    return make_split(params, load_source(params)), load_source(params)


def test_in_memory_batches_carry_labels_matching_their_source_indices():
    split, source = _embedded_split()
    loader = make_loader(split, "mini_val", batch_size=128, shuffle=True, seed=1)
    seen = []
    for images, labels, indices in loader:
        assert images.shape[1:] == (1, 28, 28) and images.dtype == torch.float32
        np.testing.assert_array_equal(labels.numpy(), source.labels["all"][indices.numpy()])
        seen.extend(indices.tolist())
    assert len(loader) == 8 and sorted(seen) == split.mini_val.tolist()


def test_a_loader_over_explicit_indices_yields_exactly_those():
    split, _ = _embedded_split()
    subset = split.mini_train[::7]
    seen = torch.cat([batch[2] for batch in make_loader(split, "mini_train", 64, shuffle=True, indices=subset)])
    assert sorted(seen.tolist()) == subset.tolist()


def test_normalisation_uses_the_split_statistics():
    split, _ = _embedded_split()
    images = torch.cat([batch[0] for batch in make_loader(split, "mini_train", batch_size=1000)])
    assert abs(images.mean().item()) < 0.02 and abs(images.std().item() - 1.0) < 0.02


def test_shuffling_is_deterministic_for_a_seed_and_resized_on_request():
    split, _ = _embedded_split()
    first = [b[2] for b in make_loader(split, "test", batch_size=100, shuffle=True, seed=5, image_size=32)]
    again = [b[2] for b in make_loader(split, "test", batch_size=100, shuffle=True, seed=5, image_size=32)]
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    images = next(iter(make_loader(split, "test", batch_size=4, image_size=32)))[0]
    assert images.shape == (4, 1, 32, 32)


def test_image_folder_loader_goes_through_timm_transforms(image_folder):
    params = DataParams.model_validate({"dataset": "imagefolder", "root": str(image_folder), "n_test": None,
                                        "n_mini_val": 6, "image_size": 32})
    split = make_split(params, load_source(params))
    images, labels, indices = next(iter(make_loader(split, "test", batch_size=6)))
    assert images.shape == (6, 3, 32, 32)
    assert labels.tolist() == load_source(params).labels["val"][indices.numpy()].tolist()
