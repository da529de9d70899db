"""The ``search`` pipeline: TRADE's trust-region Bayesian search over students (§3.1, App. C)."""
from kedro.pipeline import Node, Pipeline

from trade_pipeline.pipelines.search.nodes import (
    find_pareto_front,
    plot_search,
    search_hard_label_students,
    search_students,
    select_students,
    track_search,
)


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                search_students,
                inputs=["split", "teacher_profile", "teacher_logits", "teacher_model", "params:search"],
                outputs=["search_trials", "search_trace", "search_summary"],
                name="search_students",
            ),
            Node(
                search_hard_label_students,
                inputs=["split", "teacher_profile", "teacher_logits", "teacher_model", "params:search"],
                outputs=["hard_label_search_trials", "hard_label_selected_architectures"],
                name="search_hard_label_students",
            ),
            Node(find_pareto_front, inputs=["search_trials", "params:search"], outputs="pareto_front",
                 name="find_pareto_front"),
            Node(
                select_students,
                inputs=["search_trials", "search_summary", "params:search"],
                outputs="selected_architectures",
                name="select_students",
            ),
            Node(
                plot_search,
                inputs=["search_trials", "pareto_front", "search_trace"],
                outputs=["search_progress_plot", "pareto_plot", "trust_region_plot"],
                name="plot_search",
            ),
            Node(
                track_search,
                inputs=["search_trials", "search_summary", "pareto_front", "selected_architectures"],
                outputs="search_metrics",
                name="track_search",
            ),
        ]
    )
