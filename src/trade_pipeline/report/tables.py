"""The paper's tables as display frames (cells formatted as text) from the pipelines' datasets.

Table 4 (teachers), Table 5 (students distilled from the teacher), Table 6 (searched block
sequences) and the search summary; Table 2 and Table 7 are their stages' own
(``retrain.report.table_2``, ``transfer.report.table_7``). Costs print in millions (params,
MACs) and milliseconds, accuracies in percent.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from trade_pipeline.retrain.config import SEARCHED_PREFIX
from trade_pipeline.search.trials import ok_trials
from trade_pipeline.text_tables import number

TOP_CANDIDATES = 5


def teacher_table(teacher_profile: Mapping[str, Mapping[str, Any]], search_teacher: str) -> pd.DataFrame:
    """Table 4: every teacher's costs and accuracy; the one the search distils from is marked."""
    rows = [{"teacher": f"{name} (search)" if name == search_teacher else name, "model": profile["model"],
             "source": profile["source"], "params (M)": number(profile["params"], 3, 1e6),
             "MACs (M)": number(profile["macs"], 2, 1e6), "latency (ms)": number(profile["latency_ms"]),
             "mini-val top-1": number(profile["mini_val_top1"]), "test top-1": number(profile["test_top1"]),
             "test top-5": number(profile["test_top5"])}
            for name, profile in teacher_profile.items()]
    return pd.DataFrame(rows)


def students_by_teacher(retrain_report: pd.DataFrame) -> pd.DataFrame:
    """Table 5: test top-1 of each student distilled from the teacher, a row per teacher (one
    per run; the notebook lines up several runs' teachers from MLflow)."""
    distilled = retrain_report[retrain_report["trained_by"] == "distill"]
    table = distilled.pivot_table(index="teacher", columns="model", values="top1", sort=False)
    best = table.idxmax(axis=1)
    frame = table.map(number).rename_axis(columns=None).reset_index()
    frame["best student"] = best.to_numpy()
    return frame


def search_overview(summary: Mapping[str, Any], trials: pd.DataFrame, front: pd.DataFrame,
                    selected: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """The search at a glance, as ``(what, value)`` rows."""
    counts = summary["status_counts"]
    scored = ok_trials(trials)
    front_mode = summary.get("objective") == "pareto"
    reference = summary.get("hypervolume_reference") or [None, None]
    rows = [
        ("strategy", ", ".join(sorted(trials["strategy"].dropna().unique())) or "-"),
        ("objective", "the front of proxy accuracy against s (Pareto mode)" if front_mode else "Eq. 2 at the target"),
        ("teacher", summary["teacher"]),
        ("accuracy target (proxy top-1 %)", number(summary["acc_target"])),
        ("candidates", f"{summary['n_trials']} ({', '.join(f'{n} {status}' for status, n in counts.items())})"),
        *_rung_rows(summary),
        ("proposals refused before training (known costs over search.budget)",
         number(summary.get("filtered_over_budget"))),
        ("latency model, median error before profiling",
         "-" if summary.get("latency_model_error") is None else f"{100 * summary['latency_model_error']:.1f} %"),
        ("model-guided candidates that reached the target", _guided_share(summary)),
        ("best score (Eq. 2, lower is better)", number(scored["score"].min() if len(scored) else None, 3)),
        ("best proxy top-1 (%)", number(summary["best_proxy_accuracy"])),
        ("Pareto front", f"{len(front)} candidates"),
        (f"hypervolume of accuracy against s, from ({number(reference[0])} %, s {number(reference[1])})",
         number(summary.get("hypervolume"), 1)),
        ("selected for retraining", f"{len(selected)} " + ("(Eq. 2's best at the target, then spread along the "
                                                          "front by s)" if front_mode else
                                                          "(reaching the accuracy target, lowest score first)")),
        ("search time (candidates' wall time)", f"{number(trials['seconds'].sum() / 60, 1)} min"),
    ]
    return pd.DataFrame(rows, columns=["", "value"])


def _guided_share(summary: Mapping[str, Any]) -> str:
    """``met of guided (share)``: how often the strategy's own picks (not its design) reached the target."""
    guided, met = summary.get("guided_evaluations"), summary.get("guided_met_target")
    if not guided:
        return "-"
    return f"{met} of {guided} ({100 * met / guided:.0f} %)"


def _rung_rows(summary: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The proxy compute spent and, on a ``search.fidelity`` ladder, each rung's share of it."""
    evaluations, compute = summary.get("evaluations_per_rung") or {}, summary.get("image_epochs_per_rung") or {}
    rows = [("proxy compute (training images seen)", number(sum(compute.values()) if compute else None, 0))]
    if summary.get("pruned_at_updates"):
        rows.append(("pruned students by probe (updates trained: students)",
                     "; ".join(f"{updates}: {count}" for updates, count in summary["pruned_at_updates"].items())))
        rows.append(("proxy compute saved by pruning (training images)", number(summary["image_epochs_saved"], 0)))
    if len(evaluations) > 1:
        rows.append(("fidelity rungs: evaluations (compute)",
                     "; ".join(f"rung {rung}: {count} ({number(compute.get(rung), 0)})"
                               for rung, count in evaluations.items())))
    return rows


def top_candidates(trials: pd.DataFrame, selected: Sequence[Mapping[str, Any]],
                   count: int = TOP_CANDIDATES) -> pd.DataFrame:
    """Table 6: the best distinct architectures by Eq. 2 with their block sequences, and the
    name each selected one is retrained under (``trade_1``, …)."""
    names = {entry["trial_id"]: f"{SEARCHED_PREFIX}{rank}" for rank, entry in enumerate(selected, start=1)}
    best = (ok_trials(trials).dropna(subset=["score"]).sort_values("score", kind="stable")
            .drop_duplicates("spec_hash").head(max(count, len(selected))))
    return pd.DataFrame({
        "rank": range(1, len(best) + 1), "block sequence": best["block_sequence"].to_numpy(),
        "score": [number(value, 3) for value in best["score"]],
        "proxy top-1": [number(value) for value in best["proxy_accuracy"]],
        "params (M)": [number(value, 3, 1e6) for value in best["params"]],
        "MACs (M)": [number(value, 2, 1e6) for value in best["macs"]],
        "latency (ms)": [number(value) for value in best["latency_ms"]],
        "predicted top-1": [number(value) for value in best["predicted_accuracy"]],
        "P(top-1 >= target)": [number(value, 2) for value in best["p_feasible"]],
        "model-guided": ["yes" if pd.notna(guided) and guided else "no" for guided in best["guided"]],
        "trial": best["trial_id"].to_numpy(), "selected as": [names.get(trial, "") for trial in best["trial_id"]],
    })
