"""Every dataset the report reads, small and made by the code that makes the real ones."""
from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from trade_pipeline.data.config import DataParams
from trade_pipeline.data.sources import load_source
from trade_pipeline.data.split import Split, make_split
from trade_pipeline.retrain.report import retrain_report
from trade_pipeline.search.pareto import pareto_front, select_architectures
from trade_pipeline.search.trials import TRIAL_COLUMNS, TrialLog
from trade_pipeline.transfer.report import transfer_report


@pytest.fixture(scope="session")
def split() -> Split:
    data = DataParams.model_validate({"n_mini_train": 300})
    return make_split(data, load_source(data))


@pytest.fixture
def teacher_profile() -> dict[str, Any]:
    def profile(params: float, top1: float) -> dict[str, Any]:
        return {"params": params, "macs": 10 * params, "latency_ms": 1.5, "mini_val_top1": top1, "mini_val_top5": 99.0,
                "test_top1": top1 - 1, "test_top5": 99.5, "device": "cpu", "source": "train", "model": "resnet10t"}

    return {"cnn": profile(3.2e5, 97.7), "vit": profile(1.4e5, 92.6)}


@pytest.fixture
def teacher_similarity() -> dict[str, Any]:
    matrices = {"top1_match": [[1.0, 0.9994], [0.9994, 1.0]], "kl": [[0.0, 0.2], [0.3, 0.0]]}
    return {"teachers": ["cnn", "vit"], "train": matrices, "test": matrices}


@pytest.fixture
def search_trials(tmp_path) -> pd.DataFrame:
    """Eight candidates: one failed, one over budget, the rest scored (trial 6 misses the target)."""
    log = TrialLog(tmp_path / "trials.jsonl")
    for trial_id in range(8):
        status = {3: "failed", 5: "over_budget"}.get(trial_id, "ok")
        row = dict.fromkeys(TRIAL_COLUMNS)
        row.update(trial_id=trial_id, iteration=trial_id // 2, strategy="turbo", status=status,
                   spec_hash=f"hash{trial_id}", spec_json=f'{{"id": {trial_id}}}',
                   block_sequence=f"FMB-MB(x{trial_id})",
                   params=2e4 * (trial_id + 1), macs=3e5 * (8 - trial_id), latency_ms=1.0 + trial_id % 3, seconds=30.0,
                   rung=0, fidelity=1.0, image_epochs=None if status == "over_budget" else 900)
        if status == "ok":
            row.update(proxy_accuracy=20.0 if trial_id == 6 else 50.0 + trial_id, score=10.0 - trial_id)
        log.append(row)
    return log.to_dataframe()


@pytest.fixture
def search_summary() -> dict[str, Any]:
    return {"teacher": "cnn", "acc_target": 45.0, "n_trials": 8, "best_proxy_accuracy": 57.0,
            "status_counts": {"ok": 6, "failed": 1, "over_budget": 1}, "evaluations_per_rung": {"0": 8},
            "image_epochs_per_rung": {"0": 6300}}


@pytest.fixture
def pareto(search_trials) -> pd.DataFrame:
    return pareto_front(search_trials)


@pytest.fixture
def selected(search_trials) -> list[dict[str, Any]]:
    return select_architectures(search_trials, top_k=2, acc_target=45.0)


@pytest.fixture
def search_trace() -> list[dict[str, Any]]:
    return [{"evaluations": 4, "region": 0, "length": 0.8}, {"evaluations": 6, "region": 0, "length": 0.4}]


def _job(model: str, trained_by: str, top1: float) -> dict[str, Any]:
    return {"model": model, "searched_by": "trade" if model.startswith("trade_") else "predefined",
            "rank": 1 if model.startswith("trade_") else None,
            "architecture": "FMB-MB(x7)" if model == "trade_1" else "resnet10t", "trained_by": trained_by,
            "seed": 0, "status": "ok", "top1": top1, "top5": 99.0}


@pytest.fixture
def retrain(teacher_profile) -> pd.DataFrame:
    costs = {"trade_1": {"params": 2e4, "macs": 3e5, "latency_ms": 0.8},
             "resnet": {"params": 5e4, "macs": 9e5, "latency_ms": 1.2}}
    jobs = [_job("trade_1", "hard_label", 91.0), _job("trade_1", "distill", 94.0),
            _job("resnet", "hard_label", 89.5), _job("resnet", "distill", 90.0)]
    return retrain_report(jobs, costs, teacher="cnn")


@pytest.fixture
def transfer() -> pd.DataFrame:
    return transfer_report([{"model": model, "trained_by": "distill", "dataset": "digits", "init": init, "status": "ok",
                             "top1": top1}
                            for model, init, top1 in [("trade_1", "transferred", 88.0), ("trade_1", "scratch", 80.0),
                                                      ("resnet", "transferred", 85.0), ("resnet", "scratch", 79.0)]])


@pytest.fixture
def datasets(split, teacher_profile, teacher_similarity, search_summary, search_trials, pareto, selected,
             search_trace, retrain, transfer) -> dict[str, Any]:
    """The report pipeline's inputs by name, as the catalog would hand them over."""
    return {"split": split, "teacher_profile": teacher_profile, "teacher_similarity": teacher_similarity,
            "search_summary": search_summary, "search_trials": search_trials, "pareto_front": pareto,
            "selected_architectures": selected, "search_trace": search_trace, "retrain_report": retrain,
            "transfer_report": transfer}
