"""The report's figures read right at a glance: colour scales that do not exaggerate, log axes
labelled in plain numbers that do not overlap."""
from __future__ import annotations

import io

from matplotlib.ticker import NullFormatter

from trade_pipeline.retrain.report import plot_accuracy_latency
from trade_pipeline.search.pareto import pareto_front
from trade_pipeline.search.plots import plot_pareto, plot_search_progress, plot_trust_region_trace
from trade_pipeline.teachers.plots import plot_similarity


def _labels(axis) -> list[str]:
    axis.figure.savefig(io.BytesIO(), format="png")  # ticks are placed when drawn
    low, high = sorted(axis.get_view_interval())
    along = 1 if axis.axis_name == "y" else 0
    return [tick.get_text() for tick in axis.get_ticklabels() if low <= tick.get_position()[along] <= high]


def test_fig5_colours_sit_on_fixed_scales_so_equal_looking_cells_look_equal(teacher_similarity):
    figure = plot_similarity(teacher_similarity)  # matching ratios 0.9994 and 1.0: all print 1.00
    match_train, match_test, kl_train, kl_test = [axes.images[0] for axes in figure.axes if axes.images]
    assert match_train.get_clim() == match_test.get_clim() == (0.0, 1.0)
    assert kl_train.get_clim() == kl_test.get_clim() == (0.0, 0.3)  # the largest KL of either split


def test_pareto_log_axes_print_a_few_plain_labels_and_none_on_minor_ticks(search_trials, pareto):
    figure = plot_pareto(search_trials, pareto)
    params, macs, latency = figure.axes[:3]
    for axes in (params, macs, latency):
        assert isinstance(axes.xaxis.get_minor_formatter(), NullFormatter)
        assert all("10^" not in label and "$" not in label for label in _labels(axes.xaxis))
    assert _labels(params.xaxis) == ["0.02", "0.05", "0.1"]  # 0.02 to 0.16 M: 1-2-5 ticks
    narrow = search_trials.assign(latency_ms=3.0 + search_trials["trial_id"].astype(float) % 6)
    latency = plot_pareto(narrow, pareto_front(narrow)).axes[2]
    assert _labels(latency.xaxis) == ["3", "4", "5", "6", "7"]  # 3 to 7 ms: every mantissa


def test_progress_and_trust_region_axes_count_whole_evaluations(search_trials, search_trace):
    assert _labels(plot_search_progress(search_trials).axes[0].xaxis) == ["1", "2", "3", "4", "5", "6", "7", "8"]
    trace = plot_trust_region_trace(search_trace).axes[0]
    assert _labels(trace.yaxis) == ["0.4", "0.8"]  # a tick per length reached, one halving apart
    assert _labels(trace.xaxis) == ["4", "5", "6"]


def test_fig1_points_an_arrow_from_hard_labels_to_distillation(retrain):
    axes = plot_accuracy_latency(retrain).axes[0]
    arrows = [text for text in axes.texts if text.arrow_patch is not None]
    assert len(arrows) == 2  # trade_1 and resnet were trained both ways
