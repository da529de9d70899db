"""The proxy comparison's regimes: targets from uniform students, one cache for every target and budget."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from trade_pipeline.search.score import Budget

from ..search.conftest import tiny_search_params

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture
def benchmarks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))


def row(accuracy: float | None, macs: float | None, status: str = "ok") -> dict:
    return {"status": status, "proxy_accuracy": accuracy, "macs": macs}


def test_regime_targets_are_met_by_their_share_and_the_budget_rejects_half(benchmarks) -> None:
    from regimes import proxy_regimes

    # 50 students: accuracies 1..50 %, MACs 1..50 (teacher 100); the one that failed counts as missing every target
    rows = [row(float(k), float(k)) for k in range(1, 50)] + [row(None, 50.0, status="failed")]
    regimes = proxy_regimes(rows, teacher_macs=100.0)
    accuracies = np.array([*range(1, 50), 0.0])
    assert regimes["binding"]["target"] == pytest.approx(np.quantile(accuracies, 0.6))  # 29.4: 20 of the 50 reach it
    assert regimes["binding"]["feasible_share"] == pytest.approx(0.4)
    assert regimes["strict"]["feasible_share"] == pytest.approx(0.1)
    assert regimes["needle"]["feasible_share"] == pytest.approx(0.02)
    assert all(regimes[name]["max_macs_ratio"] is None for name in ("binding", "strict", "needle"))
    budget = regimes["budget"]
    assert budget["target"] == regimes["strict"]["target"]
    assert budget["max_macs_ratio"] == pytest.approx(0.255)  # median of 0.01..0.50
    assert budget["over_budget_share"] == pytest.approx(0.5)
    assert budget["feasible_share"] == 0.0  # every student that meets the strict target is over the budget


@pytest.fixture
def objective(benchmarks, tmp_path: Path):
    """A ``CachedObjective`` on the tiny search setup, its cache under ``tmp_path``."""
    from proxy_objective import CachedObjective

    from ..search.conftest import tiny_context

    context, _, _ = tiny_context(tiny_search_params())
    return CachedObjective(context, tmp_path / "cache.jsonl")


def test_a_budget_view_shares_the_cache_and_never_writes_an_untrained_row(objective) -> None:
    from proxy_objective import uniform_rows

    rows = uniform_rows(objective, 4, log=lambda line: None)
    assert len({r["spec_hash"] for r in rows}) == 4 and all(r["status"] == "ok" for r in rows)
    ratios = sorted(r["macs"] / objective.context.teacher_costs["macs"] for r in rows)
    limit = (ratios[1] + ratios[2]) / 2  # two of the four are over it
    strict = objective.at(acc_target=1.0, budget=Budget(max_macs_ratio=limit))
    points = np.array([r["encoding"] for r in rows])
    values = strict(points)
    over = np.array([r["macs"] / objective.context.teacher_costs["macs"] > limit for r in rows])
    assert np.isnan(values[over]).all() and np.isfinite(values[~over]).all()
    assert (strict.image_epochs(points)[over] == 0).all() and np.isnan(strict.accuracy(points)[over]).all()
    assert strict.evaluated == 0  # nothing trained again: the view reads the rows the unlimited sample trained
    # the same students at no budget are the cached ones, scored at the view's own target
    unlimited = objective.at(acc_target=1.0)
    np.testing.assert_allclose(unlimited(points), [math.log(1.0 / (r["proxy_accuracy"] * 1.01) * r["resource_ratio"])
                                                   for r in rows])
    # a new student over the budget is profiled, not trained, and kept out of the file
    lines = len(objective.cache_path.read_text().splitlines())
    tight = objective.at(budget=Budget(max_macs_ratio=1e-9))
    fresh = np.random.default_rng(7).random((1, len(objective.dimensions)))
    assert tight.row(fresh[0])["status"] == "over_budget" and tight.evaluated == 0
    assert len(objective.cache_path.read_text().splitlines()) == lines
    assert all(json.loads(line)["status"] != "over_budget" for line in objective.cache_path.read_text().splitlines())


def test_the_cache_fingerprint_counts_settings_that_act_and_ignores_defaults_and_the_budget(benchmarks) -> None:
    from proxy_objective import ProjectInputs, fidelity_fingerprint

    from trade_pipeline.search.config import SearchParams

    from ..search.conftest import tiny_inputs

    split, profile, logits = tiny_inputs()

    def fingerprint(**overrides) -> str:
        params = SearchParams.model_validate(tiny_search_params(**overrides))
        return fidelity_fingerprint(params, ProjectInputs(split, profile, logits, params, {}, None, None, []), logits)

    base = tiny_search_params()
    first = fingerprint()
    assert fingerprint(budget={"max_macs_ratio": 0.5}) == first  # applied when a row is read
    # a recipe setting spelled out at its default is the same proxy task
    assert fingerprint(proxy={**base["proxy"], "ema_decay": None}) == first
    assert fingerprint(proxy={**base["proxy"], "epochs": 2}) != first


def test_a_proxy_warm_up_other_than_the_projects_is_another_cache(benchmarks) -> None:
    from proxy_objective import ProjectInputs, fidelity_fingerprint, reduced_params

    from trade_pipeline.search.config import SearchParams

    from ..search.conftest import tiny_inputs

    split, profile, logits = tiny_inputs()
    search = SearchParams.model_validate(tiny_search_params(proxy={"epochs": 2, "warmup_epochs": 1, "batch_size": 64}))

    def fingerprint(params: SearchParams) -> str:
        return fidelity_fingerprint(params, ProjectInputs(split, profile, logits, params, {}, None, None, []), logits)

    projects = reduced_params(search, 2, 0.5)
    assert projects.proxy.warmup_epochs == 1 and projects.proxy.epochs == 2
    assert fingerprint(reduced_params(search, 2, 0.5, warmup_epochs=None)) == fingerprint(projects)
    shorter = reduced_params(search, 2, 0.5, warmup_epochs=0.25)
    assert shorter.proxy.warmup_epochs == 0.25 and fingerprint(shorter) != fingerprint(projects)
