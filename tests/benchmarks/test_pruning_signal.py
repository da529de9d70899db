"""What pruning_signal reports of early accuracies: the misses a safe cut stops, and a target
carried to another schedule by rank."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .test_proxy_regimes import benchmarks  # noqa: F401  (fixture)


def test_a_cut_losing_no_student_that_meets_the_target_stops_the_misses_below_them(benchmarks) -> None:  # noqa: F811
    from pruning_signal import summarise

    # five students; finals 70 and 60 meet a target of 55, the misses scored 10, 35 and 45 early
    curves = pd.DataFrame({"spec_hash": list("abcde"), "fraction": 0.25,
                           "top1": [40.0, 30.0, 10.0, 35.0, 45.0], "final": [70.0, 60.0, 20.0, 50.0, 52.0]})
    row, = summarise(curves, {"strict": 55.0})
    # a cut just below 30 (the lowest early score that meets) stops the miss at 10 only: 1 of 3
    assert row["stoppable_strict"] == 1 / 3
    # pairs meeting x missing ranked right: (40 > 10, 35), (30 > 10): 3 of 6, and 40 < 45, 30 < 35, 30 < 45 wrong
    assert row["auc_strict"] == 3 / 6
    everyone = summarise(curves, {"low": 0.0})[0]
    assert np.isnan(everyone["stoppable_low"]) and np.isnan(everyone["auc_low"])


def test_a_target_moves_to_what_as_many_students_meet_under_the_other_schedule(benchmarks) -> None:  # noqa: F811
    from pruning_signal import same_rank

    today = np.array([50.0, 62.0, 55.0, 40.0])
    other = np.array([58.0, 71.0, 66.0, 49.0])
    assert same_rank(54.0, today, other) == 66.0  # two meet 54 today; the second best under the other is 66
    assert same_rank(99.0, today, other) == np.inf  # none meets it
