"""The Fig. 5 figure: four annotated heatmaps in the paper's panel order."""
from __future__ import annotations

from trade_pipeline.teachers.plots import plot_similarity


def test_similarity_figure_has_four_annotated_panels():
    matrices = {"top1_match": [[1.0, 0.7], [0.7, 1.0]], "kl": [[0.0, 1.35], [2.65, 0.0]], "samples": 10}
    figure = plot_similarity({"teachers": ["A", "B"], "train": matrices, "test": matrices})
    heatmaps = [axes for axes in figure.axes if axes.images]
    assert [axes.get_title()[:3] for axes in heatmaps] == ["(a)", "(b)", "(c)", "(d)"]
    assert [text.get_text() for text in heatmaps[2].texts] == ["0.00", "1.35", "2.65", "0.00"]
    assert [label.get_text() for label in heatmaps[0].get_xticklabels()] == ["A", "B"]
