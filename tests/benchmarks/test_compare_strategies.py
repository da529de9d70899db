"""The strategy comparison benchmark (benchmarks/compare_strategies.py) runs and writes its raw CSVs."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
OPTUNA_INSTALLED = importlib.util.find_spec("optuna") is not None


@pytest.fixture
def compare(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # the scripts import their sibling modules
    import compare_strategies

    return compare_strategies


@pytest.mark.parametrize("methods", [
    ("turbo", "random"),
    pytest.param(("tpe", "random"), marks=pytest.mark.skipif(not OPTUNA_INSTALLED, reason="optuna (bench extra)")),
])
def test_two_methods_share_the_design_and_write_the_documented_columns(compare, tmp_path: Path, methods) -> None:
    problem = compare.analytic_problem("base_space", {"n_candidates": 200})
    written = compare.run_all(problem, methods, seeds=[0], budget=10, batch=4, out=tmp_path, tag="t",
                              design_size=4, log=lambda line: None)

    assert sorted(path.name for path in written) == sorted(f"{m}-seed0.csv" for m in methods)
    runs = {m: pd.read_csv(tmp_path / "t" / f"{m}-seed0.csv") for m in methods}
    for frame in runs.values():
        assert tuple(frame.columns) == compare.RUN_COLUMNS
        assert frame["evaluation"].tolist() == list(range(1, 11))
        assert (frame["phase"] == "design").sum() == 4
        assert (frame["best"].diff().dropna() <= 0).all()
    first, second = runs.values()
    pd.testing.assert_series_equal(first["value"].iloc[:4], second["value"].iloc[:4])


def test_a_finished_run_is_not_repeated(compare, tmp_path: Path) -> None:
    problem = compare.analytic_problem("ackley_mixed", {})
    compare.run_all(problem, ["random"], seeds=[0], budget=6, batch=2, out=tmp_path, tag="t", log=lambda line: None)

    assert compare.run_all(problem, ["random"], seeds=[0], budget=6, batch=2, out=tmp_path, tag="t",
                           log=lambda line: None) == []
