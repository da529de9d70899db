"""The ``retrain`` pipeline: selected students + predefined baselines, trained for real (§4, Table 2)."""
from kedro.pipeline import Node, Pipeline

from trade_pipeline.pipelines.retrain.nodes import export_students, report_retrain, retrain_models


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                retrain_models,
                inputs=["selected_architectures", "hard_label_selected_architectures", "search_summary", "split",
                        "teacher_model", "teacher_logits", "params:retrain"],
                outputs=["retrain_results", "retrained_models"],
                name="retrain_models",
            ),
            Node(
                report_retrain,
                inputs=["retrain_results", "retrained_models", "split", "search_summary", "teacher_model", "teacher_profile",
                        "params:retrain"],
                outputs=["retrain_report", "retrain_report_md", "retrain_plot", "retrain_metrics"],
                name="report_retrain",
            ),
            Node(
                export_students,
                inputs=["retrained_models", "split", "params:retrain"],
                outputs="student_exports",
                name="export_students",
            ),
        ]
    )
