import io
import math

import pytest
from matplotlib.figure import Figure

from trade_pipeline.search.pareto import pareto_front
from trade_pipeline.search.plots import plot_pareto, plot_search_progress, plot_trust_region_trace
from trade_pipeline.search.trials import TRIAL_COLUMNS, TrialLog


@pytest.fixture
def trials(tmp_path):
    log = TrialLog(tmp_path / "trials.jsonl")
    for trial_id in range(8):
        strategy = "turbo" if trial_id % 2 else "random"
        status = "failed" if trial_id == 3 else "ok"
        row = dict.fromkeys(TRIAL_COLUMNS)
        row.update(trial_id=trial_id, iteration=trial_id // 2, strategy=strategy, status=status,
                   spec_hash=str(trial_id))
        if status == "ok":
            row.update(proxy_accuracy=0.5 + trial_id / 20, params=1e6 * (trial_id + 1),
                       macs=1e8 * (8 - trial_id), latency_ms=1.0 + trial_id % 3,
                       score=math.inf if trial_id == 0 else 2.0 / (trial_id + 1))
        log.append(row)
    return log.to_dataframe()


def test_progress_draws_one_best_so_far_line_per_strategy(trials):
    figure = plot_search_progress(trials)
    assert isinstance(figure, Figure)
    (axes,) = figure.axes
    assert axes.get_yscale() == "log"
    assert sorted(line.get_label() for line in axes.lines) == ["random", "turbo"]
    random_line = next(line for line in axes.lines if line.get_label() == "random")
    best = list(random_line.get_ydata())  # random scores: inf, 2/3, 2/5, 2/7
    assert math.isnan(best[0]) and best[1:] == pytest.approx([2 / 3, 2 / 5, 2 / 7])
    figure.savefig(io.BytesIO(), format="png")


def test_progress_counts_only_scores_on_the_full_proxy_task(trials):
    """A lower fidelity rung's score is on another scale: it never becomes the best so far."""
    screened = trials.assign(fidelity=[0.33 if trial_id == 2 else 1.0 for trial_id in trials["trial_id"]])
    random_line = next(line for line in plot_search_progress(screened).axes[0].lines if line.get_label() == "random")
    assert list(random_line.get_ydata())[1:] == pytest.approx([math.nan, 2 / 5, 2 / 7], nan_ok=True)


def test_pareto_has_three_panels_plus_colour_bar_and_red_front(trials):
    figure = plot_pareto(trials, pareto_front(trials))
    assert len(figure.axes) == 4
    for axes in figure.axes[:3]:
        dots, front = axes.collections
        assert len(dots.get_offsets()) == 7
        assert len(front.get_offsets()) == len(pareto_front(trials))
        assert tuple(front.get_edgecolor()[0][:3]) == (1.0, 0.0, 0.0)


def test_trust_region_trace_draws_one_line_per_region_and_marks_restarts():
    trace = [
        {"evaluations": 4, "region": 0, "length": 0.8},
        {"evaluations": 8, "region": 0, "length": 0.4},
        {"evaluations": 12, "region": 0, "length": 0.8, "restarted": True},
        {"evaluations": 4, "region": 1, "length": 0.8},
        {"evaluations": 8, "region": 1, "length": 1.6},
    ]
    figure = plot_trust_region_trace(trace)
    (axes,) = figure.axes
    assert len(axes.lines) == 2
    assert sum(len(marks.get_offsets()) for marks in axes.collections) == 1


def test_trace_rows_without_the_needed_keys_are_refused():
    with pytest.raises(ValueError, match="missing \\['length'\\]"):
        plot_trust_region_trace([{"evaluations": 1, "region": 0}])


def test_empty_and_all_failed_inputs_still_give_figures(trials):
    failed = trials.assign(status="failed")
    empty = trials.iloc[:0]
    for figure in (
        plot_search_progress(empty),
        plot_search_progress(failed),
        plot_pareto(empty, pareto_front(empty)),
        plot_pareto(failed, pareto_front(failed)),
        plot_trust_region_trace([]),
    ):
        assert isinstance(figure, Figure)
        figure.savefig(io.BytesIO(), format="png")
    assert len(plot_pareto(failed, pareto_front(failed)).axes) == 3


def test_the_pareto_modes_front_is_a_staircase_from_the_reference_and_its_hypervolume_a_trace(trials):
    from trade_pipeline.search.pareto import FRONT_COSTS, hypervolume_by_trial
    from trade_pipeline.search.plots import plot_front, plot_hypervolume

    trials = trials.assign(proxy_accuracy=trials["proxy_accuracy"] * 100, resource_ratio=[0.5, 0.4, 1.0, None, 2.0,
                                                                                          0.3, 2.5, 4.0])
    front = pareto_front(trials, FRONT_COSTS["pareto"])
    figure = plot_front(trials, front, [{"spec_hash": "2"}], reference=(10.0, 3.0))
    staircase = figure.axes[0].lines[0]
    # front by s: 0.3 (75 %), 0.4 (55 % is beaten by 75 % at 0.3: off), ... the levels only rise, the ceiling ends it
    assert staircase.get_xdata()[-1] == 3.0 and list(staircase.get_ydata()) == sorted(staircase.get_ydata())
    assert [text.get_text() for text in figure.axes[0].texts] == ["1"]
    line = plot_hypervolume(trials, (10.0, 3.0)).axes[0].lines[0]
    assert list(line.get_ydata()) == pytest.approx(hypervolume_by_trial(trials, (10.0, 3.0)).tolist())
