"""The typed records one stage hands the next through the catalog (docs/contracts.md).

Plain dicts on disk (JSON, npz), typed here so each reader and writer names the same keys.
"""
from __future__ import annotations

from typing import TypedDict

import numpy as np


class PartLogits(TypedDict):
    """A split part's images (``indices`` into its pool, int64 N) and the teacher's float16
    ``logits`` (N x K) on them, in that order."""

    indices: np.ndarray
    logits: np.ndarray


class TeacherLogits(TypedDict):
    """``teacher_logits``: the search teacher's logits on mini-train and mini-val, and the split
    they were computed on (its fingerprint), so a stale cache is refused."""

    teacher: str
    num_classes: int
    split_fingerprint: str
    mini_train: PartLogits
    mini_val: PartLogits


class SearchSummary(TypedDict):
    """``search_summary``: what the search used and found besides its trials."""

    teacher: str
    acc_target: float
    n_trials: int  # candidates proposed (each evaluated at least on the first search.fidelity rung)
    best_proxy_accuracy: float | None
    status_counts: dict[str, int]
    filtered_over_budget: int  # proposals refused before evaluation: their known costs broke search.budget
    latency_model_error: float | None  # median relative error of the latency model's predictions
    evaluations_per_rung: dict[str, int]  # search.fidelity rung -> evaluations trained or refused there
    image_epochs_per_rung: dict[str, int]  # rung -> proxy compute spent there (training images seen)
    guided_evaluations: int  # candidates the strategy chose from what it learned, trained on the full proxy
    guided_met_target: int  # of those, how many reached acc_target
    pruned_at_updates: dict[str, int]  # search.pruning: probe (updates trained) -> students stopped there
    image_epochs_saved: int  # proxy compute the stopped students did not spend (training images)
    objective: str  # search.objective: eq2 or pareto
    hypervolume_reference: list[float]  # (accuracy floor, s ceiling) of the hypervolume (search.pareto)
    hypervolume: float  # of the front of proxy accuracy against s over the trained students
