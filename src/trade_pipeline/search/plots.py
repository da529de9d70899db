"""Search figures: progress per strategy, the Pareto scatter of Fig. 6, the trust-region trace, and
for the Pareto mode the accuracy-``s`` front with the hypervolume it grew.

Figures are built with ``matplotlib.figure.Figure`` rather than pyplot, so nothing touches the
global backend or pyplot's figure registry: they render with Agg when saved (the catalog's
matplotlib dataset calls ``savefig``) and are freed like any object, on a headless machine too.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, LogLocator, MaxNLocator, NullFormatter

from trade_pipeline.search.pareto import ACCURACY, hypervolume_by_trial
from trade_pipeline.search.trials import ok_trials, require_columns

# Fig. 6 panels: (trials column, axis label, divisor for display units).
PARETO_PANELS = (
    ("params", "params (M)", 1e6),
    ("macs", "MACs (M)", 1e6),
    ("latency_ms", "latency (ms)", 1.0),
)
TRACE_KEYS = ("evaluations", "region", "length")


def _say_empty(axes: Axes, message: str) -> None:
    axes.text(0.5, 0.5, message, ha="center", va="center", transform=axes.transAxes, color="grey")


def _plain_log_ticks(axis: Axis, values: pd.Series) -> None:
    """Labels a log axis in plain numbers at ticks suited to the span of ``values``: every
    mantissa under 3x, 1-2-5 under 100x, decades beyond. matplotlib's default labels the minor
    ticks of a narrow range as ``3×10⁻¹``, and those overlap."""
    values = values[np.isfinite(values) & (values > 0)]
    span = values.max() / values.min() if len(values) else 1.0
    subs = (1.0,) if span >= 100 else (1.0, 2.0, 5.0) if span >= 3 else tuple(range(1, 10))
    axis.set_major_locator(LogLocator(subs=subs))
    axis.set_major_formatter("{x:g}")
    axis.set_minor_formatter(NullFormatter())


def plot_search_progress(trials: pd.DataFrame) -> Figure:
    """Best score so far against evaluations, one line per strategy (log y, lower is better).

    Every candidate counts as an evaluation, failed and over-budget ones included, since they
    cost search time too; the line starts at the first scored candidate.
    """
    require_columns(trials, ["trial_id", "strategy", "status", "score"])
    figure = Figure(figsize=(6, 4), layout="constrained")
    axes = figure.add_subplot()
    axes.set(xlabel="evaluations", ylabel="best score so far (Eq. 2)", yscale="log")
    if trials.empty:
        _say_empty(axes, "no trials yet")
        return figure
    lines = []
    for strategy, runs in trials.sort_values("trial_id", kind="stable").groupby("strategy"):
        score = runs["score"].where(runs.index.isin(ok_trials(runs).index)).astype(float)  # full-rung scores only
        best = score.replace(np.inf, np.nan).cummin().ffill()
        axes.step(np.arange(1, len(runs) + 1), best.to_numpy(), where="post", label=str(strategy))
        lines.append(best)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    _plain_log_ticks(axes.yaxis, pd.concat(lines))
    axes.legend(title="strategy")
    return figure


def plot_pareto(trials: pd.DataFrame, front: pd.DataFrame) -> Figure:
    """Fig. 6: proxy accuracy against params, MACs and latency, Pareto front in red.

    Every scored trial is a dot coloured by the iteration it came from, so the drift of the
    search towards the front is visible. Three panels, plus a colour bar when there are trials.
    """
    require_columns(trials, ["status", "iteration", ACCURACY, *(c for c, _, _ in PARETO_PANELS)])
    scored = ok_trials(trials)
    figure = Figure(figsize=(13, 4), layout="constrained")
    panels = figure.subplots(1, len(PARETO_PANELS), sharey=True)
    dots = None
    for axes, (column, label, unit) in zip(panels, PARETO_PANELS):
        axes.set(xlabel=label, xscale="log")
        if scored.empty:
            _say_empty(axes, "no successful trials")
            continue
        dots = axes.scatter(
            scored[column] / unit, scored[ACCURACY], c=scored["iteration"].astype(float),
            cmap="viridis", s=18, alpha=0.7,
        )
        axes.scatter(
            front[column] / unit, front[ACCURACY], s=40, facecolors="none",
            edgecolors="red", linewidths=1.5, label="Pareto front",
        )
        _plain_log_ticks(axes.xaxis, scored[column] / unit)
    panels[0].set_ylabel("proxy accuracy")
    if dots is not None:
        panels[0].legend(loc="best")
        colour_bar = figure.colorbar(dots, ax=list(panels), label="iteration")
        colour_bar.locator = MaxNLocator(integer=True)
        colour_bar.update_ticks()
    return figure


def plot_front(trials: pd.DataFrame, front: pd.DataFrame, selected: Sequence[Mapping[str, object]],
               reference: Sequence[float]) -> Figure:
    """The Pareto mode's result: proxy accuracy against ``s``, every scored trial a dot, the front a
    red staircase over the area it dominates from ``reference`` (accuracy floor, ``s`` ceiling, the
    dashed corner), and the students selected for retraining numbered."""
    require_columns(trials, ["status", ACCURACY, "resource_ratio"])
    scored = ok_trials(trials)
    floor, ceiling = reference
    figure = Figure(figsize=(6.5, 4.5), layout="constrained")
    axes = figure.add_subplot()
    axes.set(xlabel="s (Eq. 2: params + MACs + latency, in teacher units)", ylabel="proxy accuracy (%)")
    if scored.empty:
        _say_empty(axes, "no successful trials")
        return figure
    axes.scatter(scored["resource_ratio"], scored[ACCURACY], s=14, color="grey", alpha=0.6, label="trials")
    steps = front.sort_values("resource_ratio")
    if len(steps):
        edges = np.r_[np.minimum(steps["resource_ratio"].to_numpy(float), ceiling), ceiling]
        levels = np.maximum.accumulate(steps[ACCURACY].to_numpy(float))
        levels = np.r_[levels, levels[-1]]
        axes.fill_between(edges, levels, floor, step="post", color="red", alpha=0.08, lw=0, label="hypervolume")
        axes.step(edges, levels, where="post", color="red", lw=1.5)
    axes.scatter(steps["resource_ratio"], steps[ACCURACY], s=40, facecolors="none", edgecolors="red",
                 linewidths=1.5, label="front")
    axes.axvline(ceiling, color="k", ls=":", lw=1)
    axes.axhline(floor, color="k", ls=":", lw=1)
    for number, student in enumerate(selected, start=1):
        row = scored[scored["spec_hash"] == student["spec_hash"]].iloc[0]
        axes.annotate(str(number), (row["resource_ratio"], row[ACCURACY]), textcoords="offset points", xytext=(4, 4),
                      fontsize=9, color="red")
    axes.legend(loc="lower right", fontsize=8)
    return figure


def plot_hypervolume(trials: pd.DataFrame, reference: Sequence[float]) -> Figure:
    """The hypervolume of the accuracy-``s`` front against candidates evaluated (higher is better)."""
    figure = Figure(figsize=(6, 4), layout="constrained")
    axes = figure.add_subplot()
    axes.set(xlabel="evaluations", ylabel=f"hypervolume from ({reference[0]:g} %, s {reference[1]:g})")
    if trials.empty:
        _say_empty(axes, "no trials yet")
        return figure
    trace = hypervolume_by_trial(trials, tuple(reference))
    axes.step(np.arange(1, len(trace) + 1), trace.to_numpy(), where="post", color="red")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    return figure


def plot_trust_region_trace(trace: Sequence[Mapping[str, float]]) -> Figure:
    """Trust-region length against evaluations, one line per region (log2 y).

    Successes double the length and failures halve it; a restart shows as the jump back up
    after the length fell below its minimum. Rows whose optional ``restarted`` is true are
    also marked with a star.
    """
    figure = Figure(figsize=(6, 4), layout="constrained")
    axes = figure.add_subplot()
    axes.set(xlabel="evaluations", ylabel="trust-region length")
    axes.set_yscale("log", base=2)
    if not trace:
        _say_empty(axes, "no trust regions (not a TuRBO search)")
        return figure
    missing = [key for key in TRACE_KEYS if key not in trace[0]]
    if missing:
        raise ValueError(f"trust-region trace rows need keys {list(TRACE_KEYS)}; missing {missing}")
    rows = pd.DataFrame(list(trace)).sort_values("evaluations", kind="stable")
    for region, history in rows.groupby("region"):
        (line,) = axes.step(
            history["evaluations"], history["length"], where="post", label=f"region {region}"
        )
        if "restarted" in history:
            restarts = history[history["restarted"].fillna(False).astype(bool)]
            axes.scatter(restarts["evaluations"], restarts["length"], marker="*", s=80,
                         color=line.get_color(), zorder=3)
    # Lengths move by halving and doubling, so each one that occurred is a tick, one step apart.
    axes.yaxis.set_major_locator(FixedLocator(sorted(rows["length"].unique())))
    axes.yaxis.set_major_formatter("{x:g}")
    axes.yaxis.set_minor_formatter(NullFormatter())
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.legend()
    return figure
