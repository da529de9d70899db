"""The search's headline MLflow metrics: stable names, and nothing logged as NaN."""
from __future__ import annotations

from trade_pipeline.report.metrics import search_metrics


def test_the_search_headline_metrics_have_stable_names(search_summary, search_trials, pareto, selected):
    metrics = search_metrics(search_summary, search_trials, pareto, selected)
    values = {name: metric["value"] for name, metric in metrics.items()}
    assert values == {"best_score": 3.0, "best_proxy_accuracy": 57.0, "acc_target": 45.0, "n_trials": 8.0,
                      "n_ok": 6.0, "n_over_budget": 1.0, "n_failed": 1.0, "n_pruned": 0.0, "pareto_size": float(len(pareto)),
                      "n_selected": 2.0, "trial_seconds": 240.0, "proxy_image_epochs": 6300.0}
    assert {metric["step"] for metric in metrics.values()} == {0}


def test_a_search_without_a_scored_candidate_leaves_the_bests_out(search_summary, search_trials):
    failed = search_trials.assign(status="failed")
    metrics = search_metrics(search_summary, failed, failed.iloc[:0], [])
    assert "best_score" not in metrics and "best_proxy_accuracy" not in metrics
    assert metrics["n_failed"]["value"] == 8.0 and metrics["n_ok"]["value"] == 0.0
