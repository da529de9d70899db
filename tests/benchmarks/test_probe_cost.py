"""probe_cost pairs each probe set with the same students timed without probes."""
from __future__ import annotations

import pytest

from .test_proxy_regimes import benchmarks  # noqa: F401  (fixture)


def test_probe_cost_pairs_each_probe_set_with_the_same_students_without_probes(benchmarks) -> None:  # noqa: F811
    from probe_cost import summary

    # two students: 1 s and 2 s without probes; probed, 1.5 s and 2.2 s
    sets = summary({"none": [1.0, 2.0], "probed": [1.5, 2.2]})
    assert sets["none"] == {"median_seconds": 1.5, "median_extra_seconds": 0.0, "median_ratio": 1.0}
    assert sets["probed"]["median_seconds"] == pytest.approx(1.85)
    assert sets["probed"]["median_extra_seconds"] == pytest.approx(0.35)  # (0.5 + 0.2) / 2, paired
    assert sets["probed"]["median_ratio"] == pytest.approx(1.3)  # (1.5 + 1.1) / 2: not 1.85 / 1.5
