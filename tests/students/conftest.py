"""A tiny search space shared by the student tests, small enough to build at 224x224 quickly."""

import copy

import pytest

TINY_SPACE = {
    "min_feature_size": 4,
    "stem": {"stride": 2, "width": [4, 8]},
    "blocks": [
        {
            "stride": 1,
            "layers": [1, 2],
            "block_type": ["fused_mbconv", "mbconv"],
            "kernel_size": [3, 5],
            "expansion_ratio": [1, 2],
            "se_ratio": [0, 0.25],
            "skip": ["identity", "none"],
            "width": [8],
        },
        {
            "stride": 2,
            "layers": [0, 1, 2],
            "block_type": ["fused_mbconv", "mbconv"],
            "kernel_size": [3],
            "expansion_ratio": [2],
            "se_ratio": [0, 0.5],
            "skip": ["identity", "none"],
            "width": [8, 12],
        },
        {
            "stride": 2,
            "layers": [0, 1],
            "block_type": ["mbconv", "fused_mbconv"],
            "kernel_size": [3],
            "expansion_ratio": [2],
            "se_ratio": [0],
            "skip": ["identity"],
            "width": [16],
        },
    ],
    "transformer": {"depth": [0, 1, 2], "width": [8, 16], "heads": [2, 4], "mlp_ratio": [2]},
}


@pytest.fixture
def tiny_space_config() -> dict:
    """A fresh copy of TINY_SPACE that a test may mutate."""
    return copy.deepcopy(TINY_SPACE)
