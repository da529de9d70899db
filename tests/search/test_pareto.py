import json

import numpy as np
import pandas as pd
import pytest

from trade_pipeline.search.pareto import (
    FRONT_COSTS,
    at_target,
    hypervolume_by_trial,
    pareto_front,
    select_along_front,
    select_architectures,
)
from trade_pipeline.search.score import KDGuidedScore


def trials_table(rows):
    columns = ["trial_id", "status", "spec_json", "spec_hash", "block_sequence", "score",
               "proxy_accuracy", "params", "macs", "latency_ms"]
    table = pd.DataFrame(rows, columns=columns)
    table["trial_id"] = range(len(table))
    return table


def row(spec_hash, accuracy, params, macs, latency, score, status="ok"):
    spec = json.dumps({"blocks": spec_hash})
    return [None, status, spec, spec_hash, "FMB-MB", score, accuracy, params, macs, latency]


def test_front_keeps_non_dominated_ok_rows_cheapest_first():
    table = trials_table([
        row("a", 0.90, 4e6, 4e8, 4.0, 1.0),
        row("b", 0.80, 1e6, 1e8, 1.0, 1.0),  # cheaper on every cost
        row("c", 0.80, 2e6, 2e8, 2.0, 1.0),  # dominated by b
        row("d", 0.85, 2e6, 1e8, 5.0, 1.0),  # slowest, but cheaper MACs than a
        row("e", 0.99, 0.5e6, 1e7, 0.5, 1.0, status="failed"),  # would dominate all
    ])
    front = pareto_front(table)
    assert list(front["spec_hash"]) == ["b", "d", "a"]


def test_exact_ties_both_stay_on_the_front():
    table = trials_table([row("a", 0.9, 1e6, 1e8, 1.0, 1.0), row("b", 0.9, 1e6, 1e8, 1.0, 1.0)])
    assert set(pareto_front(table)["spec_hash"]) == {"a", "b"}


def test_front_of_no_ok_trials_is_empty():
    table = trials_table([row("a", None, None, None, None, None, status="failed")])
    assert pareto_front(table).empty
    assert pareto_front(trials_table([])).empty


def test_selection_takes_lowest_scores_that_meet_the_target_without_duplicates():
    table = trials_table([
        row("a", 0.90, 4e6, 4e8, 4.0, 3.0),
        row("b", 0.70, 1e6, 1e8, 1.0, 0.1),  # best score but under the target
        row("c", 0.85, 2e6, 2e8, 2.0, 1.0),
        row("c", 0.86, 2e6, 2e8, 2.0, 1.1),  # same architecture evaluated twice
        row("d", 0.95, 3e6, 3e8, 3.0, 2.0),
    ])
    selected = select_architectures(table, top_k=2, acc_target=0.8)
    assert [entry["spec_hash"] for entry in selected] == ["c", "d"]
    assert selected[0] == {
        "spec": {"blocks": "c"}, "trial_id": 2, "spec_hash": "c", "block_sequence": "FMB-MB",
        "score": 1.0, "proxy_accuracy": 0.85, "params": 2e6, "macs": 2e8, "latency_ms": 2.0,
    }
    assert json.dumps(selected)


def test_selection_without_target_ranks_everything_ok():
    table = trials_table([row("a", 0.9, 4e6, 4e8, 4.0, 3.0), row("b", 0.7, 1e6, 1e8, 1.0, 0.1)])
    assert [entry["spec_hash"] for entry in select_architectures(table, 5, None)] == ["b", "a"]


def test_selection_rejects_a_non_positive_top_k():
    with pytest.raises(ValueError, match="top_k"):
        select_architectures(trials_table([]), top_k=0, acc_target=None)


def test_a_table_without_the_needed_columns_is_named():
    with pytest.raises(ValueError, match=r"missing columns \['macs'"):
        pareto_front(pd.DataFrame({"status": ["ok"], "proxy_accuracy": [0.9], "params": [1.0]}))


def front_table(points):
    """Trials of (accuracy %, s) with Eq. 2's columns; the ids are the row numbers."""
    table = trials_table([row(f"h{i}", accuracy, 1e6, 1e8, 1.0, 1.0) for i, (accuracy, _) in enumerate(points)])
    table["resource_ratio"] = [s for _, s in points]
    table["log_score"] = 0.0
    return at_target(table, KDGuidedScore(acc_target=60.0, epsilon=0.01))


FRONT = [(40.0, 0.2), (55.0, 0.4), (30.0, 0.5), (62.0, 0.6), (70.0, 1.0), (80.0, 2.0), (75.0, 2.5)]


def test_a_front_searched_once_is_scored_at_whichever_target_is_set_now():
    table = front_table(FRONT)
    # Eq. 2 at 60 %: meeting it, 60 / (acc * 1.01) * s; missing it, 60 / (acc * 0.01) * s
    assert table.loc[3, "score"] == pytest.approx(60 / (62 * 1.01) * 0.6)
    assert table.loc[1, "score"] == pytest.approx(60 / (55 * 0.01) * 0.4)
    assert table["log_score"].tolist() == pytest.approx(np.log(table["score"]).tolist())
    assert at_target(table, KDGuidedScore(50.0, 0.01)).loc[1, "score"] == pytest.approx(50 / (55 * 1.01) * 0.4)


def test_the_front_of_accuracy_against_s_and_students_spread_along_it():
    table = front_table(FRONT)
    front = pareto_front(table, FRONT_COSTS["pareto"])
    assert front["spec_hash"].tolist() == ["h0", "h1", "h3", "h4", "h5"]  # h2 and h6 are beaten
    # Eq. 2's best at 60 % (h3: 0.6 / 62 is lowest among those at 60 % or more), then the students
    # nearest the thirds of the front's s, 0.467 (h1 at 0.4) and 0.867 (h4 at 1.0; h3 is taken)
    selected = select_along_front(table, 3, acc_target=60.0)
    assert [entry["spec_hash"] for entry in selected] == ["h3", "h1", "h4"]
    # no target met: five inner quantiles of s over five front students take them all, cheapest first
    assert [entry["spec_hash"] for entry in select_along_front(table, 5, acc_target=99.0)] == \
        ["h0", "h1", "h3", "h4", "h5"]
    assert len(select_along_front(table, 9, acc_target=None)) == 5  # never more than the front holds


def test_the_hypervolume_grows_trial_by_trial_from_the_reference():
    table = front_table([(40.0, 0.2), (30.0, 0.5), (70.0, 1.0)])
    table.loc[1, "status"] = "failed"
    trace = hypervolume_by_trial(table, reference=(10.0, 3.0))
    # (40 - 10) x (3 - 0.2) = 84; the failure adds nothing; then (70 - 40) x (3 - 1) = 60 more
    assert trace.tolist() == pytest.approx([84.0, 84.0, 144.0])
