"""model_calibration's cost inputs: what the model is told a student costs."""
from __future__ import annotations

import numpy as np

from .test_proxy_regimes import benchmarks  # noqa: F401  (fixture)


def test_cost_inputs_are_log_ratios_to_the_teacher_spread_over_the_uniform_students(benchmarks) -> None:  # noqa: F811
    from model_calibration import cost_features

    teacher = {"params": 100.0, "macs": 1000.0, "latency_ms": 2.0}
    # two uniform students: a tenth and the whole teacher on every cost
    uniform = [{"params": 10.0, "macs": 100.0, "latency_ms": 0.2}, {"params": 100.0, "macs": 1000.0, "latency_ms": 2.0}]
    features = cost_features(uniform, teacher)
    np.testing.assert_allclose(features(uniform), [[0.1] * 3, [0.9] * 3])
    # a hundredth lies one whole span (a decade, 0.8) below a tenth: log-scaled
    np.testing.assert_allclose(features([{"params": 1.0, "macs": 10.0, "latency_ms": 0.02}]), [[-0.7] * 3])
