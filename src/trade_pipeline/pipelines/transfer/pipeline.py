"""The ``transfer`` pipeline: retrained models fine-tuned on other datasets (Table 7, App. D.2)."""
from kedro.pipeline import Node, Pipeline

from trade_pipeline.pipelines.transfer.nodes import report_transfer, split_targets, transfer_models


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(split_targets, inputs=["split", "params:transfer"], outputs="transfer_splits", name="split_targets"),
            Node(transfer_models, inputs=["retrained_models", "retrain_results", "transfer_splits", "params:transfer"],
                 outputs="transfer_results", name="transfer_models"),
            Node(report_transfer, inputs=["transfer_results", "retrain_report", "split"],
                 outputs=["transfer_report", "transfer_report_md", "transfer_metrics"], name="report_transfer"),
        ]
    )
