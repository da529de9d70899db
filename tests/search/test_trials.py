import math
from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pytest

from trade_pipeline.search.trials import TRIAL_COLUMNS, TrialLog


def make_row(trial_id, status="ok", spec_hash=None, **values):
    row = dict.fromkeys(TRIAL_COLUMNS)
    row.update(
        trial_id=trial_id,
        iteration=0,
        strategy="turbo",
        status=status,
        spec_hash=spec_hash or f"hash{trial_id}",
        started_at="2024-05-01T12:00:00+00:00",
    )
    row.update(values)
    return row


def test_rows_come_back_in_order_with_array_values_as_lists(tmp_path):
    log = TrialLog(tmp_path / "trials.jsonl")
    log.append(make_row(0, encoding=np.array([0.25, 0.5]), params=np.float32(2.0), score=math.inf))
    log.append(make_row(1, status="failed", reason="NaN loss"))
    rows = log.rows()
    assert [row["trial_id"] for row in rows] == [0, 1]
    assert rows[0]["encoding"] == [0.25, 0.5]
    assert rows[0]["score"] == math.inf
    assert rows[1]["reason"] == "NaN loss"


def test_missing_log_reads_as_empty(tmp_path):
    log = TrialLog(tmp_path / "none.jsonl")
    assert log.rows() == []
    assert list(log.to_dataframe().columns) == list(TRIAL_COLUMNS)


def test_a_killed_write_loses_only_the_line_being_written(tmp_path, caplog):
    path = tmp_path / "trials.jsonl"
    log = TrialLog(path)
    log.append(make_row(0))
    with path.open("a") as file:
        file.write('{"trial_id": 1, "status": "o')
    assert [row["trial_id"] for row in log.rows()] == [0]
    assert "incomplete last line" in caplog.text
    log.append(make_row(2))
    assert [row["trial_id"] for row in log.rows()] == [0, 2]


def test_a_corrupt_line_in_the_middle_is_reported_with_its_number(tmp_path):
    path = tmp_path / "trials.jsonl"
    TrialLog(path).append(make_row(0))
    with path.open("a") as file:
        file.write("garbage\n")
    TrialLog(path).append(make_row(1))
    with pytest.raises(ValueError, match="line 2"):
        TrialLog(path).rows()


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({**make_row(0), "accuracy": 0.5}, r"unknown keys \['accuracy'\]"),
        ({k: v for k, v in make_row(0).items() if k != "score"}, r"missing keys \['score'\]"),
        (make_row(0, status="done"), "status must be one of"),
    ],
)
def test_append_refuses_a_malformed_row(tmp_path, row, message):
    log = TrialLog(tmp_path / "trials.jsonl")
    with pytest.raises(ValueError, match=message):
        log.append(row)
    assert log.rows() == []


def test_dataframe_has_stable_columns_and_dtypes_with_nan_for_missing(tmp_path):
    log = TrialLog(tmp_path / "trials.jsonl")
    log.append(make_row(0, params=1e6, proxy_accuracy=0.9, trust_region=1, encoding=[0.1]))
    started = datetime(2024, 5, 1, 12, 0, 1, tzinfo=timezone.utc)
    log.append(make_row(1, status="failed", reason="out of memory", started_at=started))
    table = log.to_dataframe()
    assert list(table.columns) == list(TRIAL_COLUMNS)
    assert table["params"].dtype == "float64" and math.isnan(table["params"][1])
    assert table["trust_region"].dtype == "Int64" and table["trust_region"].isna()[1]
    assert table["status"].dtype == "string"
    assert list(table["started_at"]) == [pd.Timestamp("2024-05-01T12:00:00Z"), started]
    assert table["encoding"][0] == [0.1]


def test_guided_outcomes_count_the_strategys_own_trained_picks_and_those_that_met_the_target():
    from trade_pipeline.search.trials import guided_outcomes, trials_table
    from trade_pipeline.report.tables import search_overview

    rows = [make_row(0, guided=False, proxy_accuracy=90.0, fidelity=1.0),  # the design: not counted
            make_row(1, guided=True, proxy_accuracy=81.0, fidelity=1.0),
            make_row(2, guided=True, proxy_accuracy=79.9, fidelity=1.0),
            make_row(3, guided=True, status="over_budget", fidelity=1.0),  # never trained
            make_row(4, guided=True, proxy_accuracy=80.0, fidelity=1.0)]
    table = trials_table(rows)
    assert guided_outcomes(table, 80.0) == (3, 2)
    summary = {"status_counts": {"ok": 4}, "teacher": "t", "acc_target": 80.0, "n_trials": 5,
               "best_proxy_accuracy": 90.0, "guided_evaluations": 3, "guided_met_target": 2}
    overview = dict(search_overview(summary, table.assign(seconds=1.0, score=1.0), pd.DataFrame(), []).values)
    assert overview["model-guided candidates that reached the target"] == "2 of 3 (67 %)"
