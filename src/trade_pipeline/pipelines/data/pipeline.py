"""The ``data`` pipeline: raw dataset -> versioned ``split`` (paper §D.1, Table 3)."""
from kedro.pipeline import Node, Pipeline

from trade_pipeline.pipelines.data.nodes import split_dataset


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(split_dataset, inputs="params:data", outputs=["split", "split_sizes"], name="split_dataset"),
        ]
    )
