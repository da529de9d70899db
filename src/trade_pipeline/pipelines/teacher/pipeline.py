"""The ``teacher`` pipeline: split + teacher config -> teachers, profile, soft labels, similarity.

Paper §3.1 (the teacher the search distils from), Table 4 (teachers), App. B / Fig. 5.
"""
from kedro.pipeline import Node, Pipeline

from trade_pipeline.pipelines.teacher.nodes import (
    build_teachers,
    cache_teacher_logits,
    compare_teachers,
    profile_all_teachers,
)


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                build_teachers,
                inputs=["params:teacher", "split"],
                outputs=["teachers", "teacher_model"],
                name="build_teachers",
            ),
            Node(
                profile_all_teachers,
                inputs=["teachers", "split", "params:teacher"],
                outputs=["teacher_profile", "teacher_metrics"],
                name="profile_teachers",
            ),
            Node(
                cache_teacher_logits,
                inputs=["teacher_model", "split", "params:teacher"],
                outputs="teacher_logits",
                name="cache_teacher_logits",
            ),
            Node(
                compare_teachers,
                inputs=["teachers", "split", "params:teacher"],
                outputs=["teacher_similarity", "teacher_similarity_heatmaps"],
                name="compare_teachers",
            ),
        ]
    )
