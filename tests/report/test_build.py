"""The run report's sections: every stage in the paper's terms, and stages not run said so."""
from __future__ import annotations

from trade_pipeline.report.build import run_report
from trade_pipeline.report.document import Plot, Table


def _captions(section) -> list[str]:
    return [block.caption.split(":")[0] for block in section.blocks if isinstance(block, Table | Plot)]


def test_a_full_report_has_every_table_and_figure_of_the_paper(datasets):
    document = run_report(**datasets)
    assert [section.title for section in document.sections] == ["Teachers", "Search", "Retrain", "Transfer"]
    teachers, search, retrain, transfer = document.sections
    assert _captions(teachers) == ["Table 4 analog", "Table 5 analog", "Fig. 5 analog"]
    assert _captions(search) == ["Summary", "Table 6 analog", "Fig. 7 analog", "Fig. 6 analog",
                                 "Trust-region length (TuRBO)"]
    assert _captions(retrain) == ["Table 2 analog", "Fig. 1 analog"]
    assert "Distillation gain (D − HL test top-1, mean over 1 seed): resnet +0.50 pt, trade_1 +3.00 pt." in retrain.blocks
    assert _captions(transfer) == ["Table 7 analog"]
    assert list(document.figures()) == ["teacher_similarity", "search_progress", "pareto_front",
                                        "trust_region_trace", "retrain_accuracy_latency"]
    assert document.intro[0].startswith("Teacher `cnn` on `embedded_mnist` (10 classes, 1×28×28 images; mini-train 300")


def test_stages_not_run_are_reported_as_such_with_the_command_that_runs_them(datasets):
    document = run_report(**datasets | {"retrain_report": None, "transfer_report": None})
    teachers, _, retrain, transfer = document.sections
    assert _captions(teachers) == ["Table 4 analog", "Fig. 5 analog"]
    assert retrain.blocks == [
        "Not run yet: `kedro run --pipelines=retrain` trains the selected students and the baselines, "
        "then rebuild with `kedro run --pipelines=report`."]
    assert transfer.blocks[0].startswith("Not run yet: `kedro run --pipelines=transfer`")
    assert "retrain (not run), transfer (not run)" in document.intro[0]
    assert "retrain_accuracy_latency" not in document.figures()


def test_students_distilled_from_another_teacher_are_flagged_as_stale(datasets):
    stale = datasets["retrain_report"].assign(teacher="vit")
    (note, *_) = run_report(**datasets | {"retrain_report": stale}).sections[2].blocks
    assert note.startswith("These students were distilled from vit, not from this search's teacher cnn")


def test_a_pareto_mode_report_draws_the_front_its_hypervolume_and_the_retrained_front(datasets):
    from trade_pipeline.search.pareto import FRONT_COSTS, pareto_front, select_along_front

    trials = datasets["search_trials"].assign(resource_ratio=[0.2, 0.5, 0.3, None, 0.9, None, 0.1, 1.4])
    summary = datasets["search_summary"] | {"objective": "pareto", "hypervolume_reference": [10.0, 3.0],
                                            "hypervolume": 123.4}
    document = run_report(**datasets | {"search_trials": trials, "search_summary": summary,
                                        "pareto_front": pareto_front(trials, FRONT_COSTS["pareto"]),
                                        "selected_architectures": select_along_front(trials, 2, 45.0)})
    _, search, retrain, _ = document.sections
    assert _captions(search)[2:4] == ["Pareto mode", "Pareto mode"]
    assert {"front", "hypervolume", "retrain_accuracy_s"} <= set(document.figures())
    overview = dict(zip(search.blocks[0].frame.iloc[:, 0], search.blocks[0].frame["value"]))
    assert overview["objective"] == "the front of proxy accuracy against s (Pareto mode)"
    assert overview["hypervolume of accuracy against s, from (10.00 %, s 3.00)"] == "123.4"
    teacher = document.figures()["retrain_accuracy_s"].axes[0].collections[-1]
    assert teacher.get_offsets().tolist() == [[3.0, 96.7]]  # the cnn teacher's test top-1, at s = 3
