"""benchmarks/proxy_noise.py: which students it retrains, and its summary against hand-computed values."""
from __future__ import annotations

import math

import pandas as pd
import pytest


@pytest.fixture
def proxy_noise(benchmark_module):
    return benchmark_module("proxy_noise")


def test_the_students_nearest_the_target_are_taken_once_each_and_only_trained_ones(proxy_noise) -> None:
    trials = pd.DataFrame({"spec_hash": ["a", "b", "b", "c", "d", "e"],
                           "status": ["ok", "ok", "ok", "ok", "failed", "ok"],
                           "proxy_accuracy": [85.0, 79.0, 79.0, 60.0, None, 81.5]})
    chosen = proxy_noise.near_target(trials, target=80.0, window=10.0, n=5)
    assert chosen["spec_hash"].tolist() == ["b", "e", "a"]  # 1, 1.5 and 5 points away; c is 20 away
    assert proxy_noise.near_target(trials, 80.0, 10.0, n=1)["spec_hash"].tolist() == ["b"]


def test_the_deviation_is_pooled_within_students_and_crossings_are_counted_from_each_mean(proxy_noise) -> None:
    rows = [{"accuracies": [78.0, 82.0]}, {"accuracies": [70.0, 74.0, 72.0]}, {"accuracies": [90.0, None]}]
    summary = proxy_noise.summarise(rows, target=80.0)
    assert summary["students"] == 2  # a student with one measured run says nothing about spread
    # squared deviations 4 + 4 and 4 + 4 + 0 over 1 + 2 degrees of freedom
    assert summary["pooled_sd_points"] == pytest.approx(math.sqrt(16.0 / 3.0))
    # the first student's mean (80) meets the target, its 78 does not; the second never crosses
    assert summary["mean_share_across_target_from_mean"] == pytest.approx(0.25)
    assert summary["students_met_by_some_seed_and_missed_by_another"] == 1
    assert summary["per_student_sd"] == pytest.approx([2.0 * math.sqrt(2.0), 2.0])
