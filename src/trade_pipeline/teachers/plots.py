"""Fig. 5 as a figure: top-1 matching ratio and KL(p‖q) heatmaps on train and test.

Built on ``matplotlib.figure.Figure`` rather than pyplot (like ``search.plots``), so nothing
touches the global backend: the catalog's matplotlib dataset renders it when saving.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

# (panel letter, metric key, split key, title) in Fig. 5's order.
PANELS = (
    ("a", "top1_match", "train", "Top-1 matching ratio, train"),
    ("b", "top1_match", "test", "Top-1 matching ratio, test"),
    ("c", "kl", "train", "KL(p‖q), train"),
    ("d", "kl", "test", "KL(p‖q), test"),
)


def plot_similarity(similarity: Mapping[str, Any]) -> Figure:
    """A 2x2 figure of annotated heatmaps; rows are model i (p), columns model j (q).

    Colours sit on fixed scales shared by train and test (matching ratio on [0, 1], KL on
    [0, largest KL]), so near-equal cells look alike and the two splits compare at a glance;
    a scale fitted to each panel would stretch 0.999 against 1.0 across the whole colour map.
    """
    names = similarity["teachers"]
    largest_kl = max(float(np.max(similarity[part]["kl"])) for part in ("train", "test"))
    limits = {"top1_match": (0.0, 1.0), "kl": (0.0, largest_kl if largest_kl > 0 else 1.0)}
    side = 2.2 + 0.9 * len(names)
    figure = Figure(figsize=(2 * side, 2 * side), layout="constrained")
    for position, (letter, metric, part, title) in enumerate(PANELS, start=1):
        axes = figure.add_subplot(2, 2, position)
        values = np.asarray(similarity[part][metric], dtype=float)
        _heatmap(axes, values, names, cmap="viridis" if metric == "top1_match" else "magma_r", limits=limits[metric])
        axes.set_title(f"({letter}) {title}")
    return figure


def _heatmap(axes: Axes, values: np.ndarray, names: Sequence[str], cmap: str, limits: tuple[float, float]) -> None:
    image = axes.imshow(values, cmap=cmap, vmin=limits[0], vmax=limits[1])
    axes.set_xticks(range(len(names)), labels=names, rotation=45, ha="right")
    axes.set_yticks(range(len(names)), labels=names)
    axes.set(xlabel="column model j (q)", ylabel="row model i (p)")
    for (row, column), value in np.ndenumerate(values):
        red, green, blue, _ = image.cmap(image.norm(value))
        light_cell = 0.299 * red + 0.587 * green + 0.114 * blue > 0.5  # perceived brightness
        axes.text(column, row, f"{value:.2f}", ha="center", va="center", color="black" if light_cell else "white")
    axes.figure.colorbar(image, ax=axes, shrink=0.8)
