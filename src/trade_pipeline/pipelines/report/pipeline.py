"""The ``report`` pipeline: every stage's datasets -> one HTML page and its markdown twin."""
from kedro.pipeline import Node, Pipeline

from trade_pipeline.pipelines.report.nodes import build_run_report
from trade_pipeline.report import OPTIONAL_INPUTS


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                build_run_report,
                inputs=["split", "teacher_profile", "teacher_similarity", "search_summary", "search_trials",
                        "pareto_front", "selected_architectures", "search_trace", *OPTIONAL_INPUTS],
                outputs=["run_report", "run_report_md", "run_report_figures"],
                name="build_run_report",
            ),
        ]
    )
