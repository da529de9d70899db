"""The ``transfer`` pipeline: retrained models fine-tuned on other datasets (Table 7, App. D.2)."""
from kedro.pipeline import Node, Pipeline

from trade_pipeline.pipelines.transfer.nodes import report_transfer, transfer_models


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(transfer_models, inputs=["retrained_models", "retrain_results", "split", "params:transfer"],
                 outputs="transfer_results", name="transfer_models"),
            Node(report_transfer, inputs=["transfer_results", "retrain_report", "split"],
                 outputs=["transfer_report", "transfer_report_md", "transfer_metrics"], name="report_transfer"),
        ]
    )
