"""The paper's tables from the datasets: what each row and column holds."""
from __future__ import annotations

import math

from trade_pipeline.report.tables import search_overview, students_by_teacher, teacher_table, top_candidates
from trade_pipeline.retrain.report import table_2 as retrain_table
from trade_pipeline.text_tables import number
from trade_pipeline.transfer.report import table_7 as transfer_table


def test_numbers_print_scaled_with_fixed_decimals_and_a_dash_when_missing():
    assert [number(2.5e5, 3, 1e6), number(97.666), number(None), number(math.nan), number(math.inf)] == [
        "0.250", "97.67", "-", "-", "-"]


def test_table_4_marks_the_search_teacher_and_prints_costs_in_millions(teacher_profile):
    table = teacher_table(teacher_profile, "vit")
    assert table["teacher"].tolist() == ["cnn", "vit (search)"]
    assert table.iloc[0][["params (M)", "MACs (M)", "test top-1"]].tolist() == ["0.320", "3.20", "96.70"]


def test_table_5_has_a_row_per_teacher_and_the_distilled_top1_of_each_student(retrain):
    table = students_by_teacher(retrain)
    assert table.columns.tolist() == ["teacher", "trade_1", "resnet", "best student"]
    assert table.values.tolist() == [["cnn", "94.00", "90.00", "trade_1"]]


def test_table_6_ranks_scored_candidates_and_names_the_selected_ones(search_trials, selected):
    table = top_candidates(search_trials, selected)
    assert table["trial"].tolist() == [7, 6, 4, 2, 1]  # lowest Eq. 2 score first; failed and over-budget left out
    assert table["selected as"].tolist() == ["trade_1", "", "trade_2", "", ""]  # trial 6 misses the target
    assert table.iloc[0][["block sequence", "score", "proxy top-1"]].tolist() == ["FMB-MB(x7)", "3.000", "57.00"]


def test_the_search_overview_counts_candidates_by_status(search_summary, search_trials, pareto, selected):
    overview = dict(search_overview(search_summary, search_trials, pareto, selected).values.tolist())
    assert overview["candidates"] == "8 (6 ok, 1 failed, 1 over_budget)"
    assert overview["best score (Eq. 2, lower is better)"] == "3.000"
    assert overview["search time (candidates' wall time)"] == "4.0 min"
    assert overview["proxy compute (training images seen)"] == "6300"
    assert "fidelity rungs: evaluations (compute)" not in overview  # one rung: no ladder to show
    ladder = {**search_summary, "evaluations_per_rung": {"0": 6, "1": 2}, "image_epochs_per_rung": {"0": 1800, "1": 1800}}
    overview = dict(search_overview(ladder, search_trials, pareto, selected).values.tolist())
    assert overview["fidelity rungs: evaluations (compute)"] == "rung 0: 6 (1800); rung 1: 2 (1800)"
    assert "proxy compute saved by pruning (training images)" not in overview  # nothing pruned
    pruned = {**search_summary, "pruned_at_updates": {"18": 2, "36": 1}, "image_epochs_saved": 4500}
    overview = dict(search_overview(pruned, search_trials, pareto, selected).values.tolist())
    assert overview["pruned students by probe (updates trained: students)"] == "18: 2; 36: 1"
    assert overview["proxy compute saved by pruning (training images)"] == "4500"


def test_table_2_abbreviates_the_training_modes_like_the_paper(retrain):
    table = retrain_table(retrain)
    assert table[["student", "searched by", "trained by", "top-1"]].values.tolist() == [
        ["trade_1", "TRADE (D)", "HL", "91.00"], ["trade_1", "TRADE (D)", "D", "94.00"],
        ["resnet", "-", "HL", "89.50"], ["resnet", "-", "D", "90.00"]]


def test_table_7_puts_the_source_top1_of_the_distilled_model_before_each_target(transfer, retrain):
    table = transfer_table(transfer, retrain, "mnist")
    assert table.columns.tolist() == ["architecture", "init", "mnist (D)", "digits"]
    assert table.values.tolist() == [["trade_1", "transferred", "94.00", "88.00"], ["trade_1", "scratch", "-", "80.00"],
                                     ["resnet", "transferred", "90.00", "85.00"], ["resnet", "scratch", "-", "79.00"]]
    assert transfer_table(transfer, None, "mnist")["mnist (D)"].tolist() == ["-"] * 4
