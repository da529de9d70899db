"""benchmarks/twin_networks.py: repeats of a network within a run, counted by hand."""
from __future__ import annotations

import math

import pandas as pd
import pytest


@pytest.fixture
def twin_networks(benchmark_module):
    return benchmark_module("twin_networks")


def test_a_second_spec_of_one_network_is_a_repeat_and_its_new_best_is_counted(twin_networks) -> None:
    network = {"a": "n1", "a2": "n1", "b": "n2", "c": "n3"}  # a and a2: two specs, one network
    run = pd.DataFrame({"key": ["a", "b", "a2", "over", "c"], "value": [1.0, 0.5, 0.4, math.nan, 0.6]})
    assert twin_networks.twins(run, network) == (1, 1, True)  # a2 repeats a, and is the final best
    later = pd.DataFrame({"key": ["a", "b", "a2", "c"], "value": [1.0, 0.5, 0.7, 0.3]})
    assert twin_networks.twins(later, network) == (1, 0, False)
