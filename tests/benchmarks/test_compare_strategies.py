"""The strategy comparison benchmark (benchmarks/compare_strategies.py) runs and writes its raw CSVs."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from trade_pipeline.optim import CompositeObjective, Dimension

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture
def compare(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # the scripts import their sibling modules
    import compare_strategies

    return compare_strategies


@pytest.mark.parametrize("methods", [("turbo", "random"), ("tpe", "random")])
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


def _outcome_problem(compare):
    """A composite problem like ``proxy``: a black-box outcome (reaching 50 needs x0 + x1 > 1), known costs."""
    dims = (Dimension("ordinal", 4),) * 4 + (Dimension("categorical", 2),) * 2

    def outcome(points: np.ndarray) -> np.ndarray:
        return 100.0 / (1.0 + np.exp(-6.0 * (points[:, 0] + points[:, 1] - 1.0)))

    def known(points: np.ndarray) -> np.ndarray:
        return np.column_stack([points[:, 2] + 0.1, points[:, 3] + 0.1])

    def score(acc: torch.Tensor, costs: torch.Tensor) -> torch.Tensor:
        return np.log(50.0) - torch.log(acc) - torch.log((acc >= 50.0).double() + 0.01) + torch.log(costs.sum(-1))

    def objective(points: np.ndarray) -> np.ndarray:
        return score(torch.from_numpy(outcome(points)), torch.from_numpy(known(points))).numpy()

    structure = lambda: {"objective": CompositeObjective(known, score, (0.0, 100.0)),  # noqa: E731
                         "observe": lambda points: None}
    options = lambda strategy: {"n_candidates": 100, "n_global": 50} if strategy == "composite" else {}  # noqa: E731
    return compare.Problem("outcome", dims, objective, 12, strategy_options=options, outcome=outcome,
                           outcome_target=50.0, structure=structure)


@pytest.mark.parametrize("method", ["tpe_c", "gp_c", "composite"])
def test_the_methods_that_use_the_outcome_get_it(compare, tmp_path: Path, method: str, monkeypatch) -> None:
    told = []
    if method == "composite":
        from trade_pipeline.optim import CompositeTurbo

        real_tell = CompositeTurbo.tell
        monkeypatch.setattr(CompositeTurbo, "tell", lambda self, p, v, o=None, sd=None: (told.append(o),
                                                                                 real_tell(self, p, v, o, sd)))
    problem = _outcome_problem(compare)
    compare.run_all(problem, [method], seeds=[0], budget=12, batch=4, out=tmp_path, tag="t", design_size=4,
                    log=lambda line: None)
    frame = pd.read_csv(tmp_path / "t" / f"{method}-seed0.csv")
    assert frame["evaluation"].tolist() == list(range(1, 13)) and frame["value"].notna().all()
    if method == "composite":
        assert len(told) == 3 and all(outcomes is not None and np.isfinite(outcomes).all() for outcomes in told)


def test_the_constrained_optuna_samplers_refuse_a_problem_without_an_outcome(compare, tmp_path: Path) -> None:
    problem = compare.analytic_problem("base_space", {})
    with pytest.raises(SystemExit, match="tpe_c needs a problem with an outcome"):
        compare.run_all(problem, ["tpe_c"], seeds=[0], budget=6, batch=2, out=tmp_path, tag="t", design_size=2,
                        log=lambda line: None)


@pytest.fixture
def report(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import strategy_report

    return strategy_report


def test_best_by_compute_counts_only_trained_evaluations(report) -> None:
    runs = pd.DataFrame({"method": "random", "seed": 0, "evaluation": [1, 2, 3, 4],
                         "image_epochs": [10.0, 0.0, 10.0, 10.0], "best": [5.0, 4.0, 3.0, 2.0]})

    seeds, matrix = report.best_by_compute(runs, "random", np.array([0.5, 1.0, 2.0, 3.0, 9.0]))

    # the skipped (0-cost) second evaluation counts at the compute already spent
    assert seeds == [0]
    np.testing.assert_array_equal(matrix[0], [np.nan, 4.0, 3.0, 2.0, 2.0])


def test_the_compute_report_compares_at_the_compute_every_run_reached(report, tmp_path: Path) -> None:
    rows = []
    for seed in (0, 1):
        rows += [{"method": "composite", "seed": seed, "evaluation": e, "image_epochs": 100.0, "best": b}
                 for e, b in zip((1, 2, 3), (3.0, 1.0, 0.5))]
        rows += [{"method": "random", "seed": seed, "evaluation": e, "image_epochs": c, "best": b}
                 for e, c, b in zip((1, 2, 3), (100.0, 0.0, 0.0), (3.0, 2.0, 0.0))]
    runs = pd.DataFrame(rows).assign(budget=3, phase="search", value=0.0, optimizer_seconds=0.0, key="")

    curve, table, pairs = report.compute_report(runs)

    assert "Every run reached 1 units" in table
    assert pairs.set_index("method").loc["random", ["wins", "losses"]].tolist() == [0, 2]  # 3.0 against 0.0
    composite = curve[curve["method"] == "composite"].set_index("compute")["median"]
    assert composite.loc[[1.0, 2.0, 3.0]].tolist() == [3.0, 1.0, 0.5]
    runs.to_csv(tmp_path / "composite-seed0.csv", index=False)
    report.write_report(tmp_path, tmp_path / "figures", "t", "t", optimum_known=False, checkpoints=[])
    assert (tmp_path / "figures" / "t_compute.csv").exists() and (tmp_path / "figures" / "t_compute.png").exists()


def test_nb201_regimes_meet_their_shares_and_score_eq_2_against_the_all_conv3x3_teacher(compare) -> None:
    from nb201 import REGIMES, NB201Problem, load_table

    table = load_table()
    assert len(table["accuracy"]) == 5**6
    for regime, share in REGIMES.items():
        problem = NB201Problem.at_regime(table, regime)
        assert problem.feasible_share == pytest.approx(share, abs=0.005)
    problem = NB201Problem.at_regime(table, "strict")
    teacher = np.full((1, 6), (3 + 0.5) / 5)  # level 3 of every edge: nor_conv_3x3
    np.testing.assert_allclose(problem.ratios[problem.codes(teacher)], [[1.0, 1.0]])
    accuracy = problem.accuracy(teacher)[0]
    expected = np.log(problem.target / (accuracy * (float(accuracy >= problem.target) + 0.01)) * 2.0)  # Eq. 2, s = 2
    assert problem.regret(teacher)[0] == pytest.approx(expected - problem.optimum)
    best = problem.log_scores.argmin()
    assert problem.table["accuracy"][best] >= problem.target and problem.log_scores[best] == problem.optimum
    # what the composite strategy is told is what the benchmark tells: the regret, from the accuracy and known costs
    objective = problem.composite_objective()
    points = np.random.default_rng(0).random((20, 6))
    told = objective.value(torch.from_numpy(problem.accuracy(points))[None], torch.from_numpy(objective.known(points)))
    np.testing.assert_allclose(told[0].numpy(), problem.regret(points))
    assert objective.threshold == problem.target


def test_nb201_runs_every_regime_as_its_own_problem(compare, tmp_path: Path) -> None:
    problems = compare.nb201_problems(["binding", "needle"], budget=12, turbo_options={"n_candidates": 100},
                                      overrides=[])
    assert [tag for _, tag in problems] == ["nb201_binding_12", "nb201_needle_12"]
    problem, tag = problems[1]
    compare.run_all(problem, ["composite", "random"], seeds=[0], budget=12, batch=4, out=tmp_path, tag=tag,
                    log=lambda line: None)
    runs = pd.read_csv(tmp_path / tag / "composite-seed0.csv")
    assert len(runs) == 12 and (runs["best"] >= 0).all()  # regret: never below the table's optimum


def test_every_default_method_runs_on_an_eq2_problem(compare, tmp_path: Path) -> None:
    (problem, tag), = compare.nb201_problems(["needle"], budget=10, turbo_options={"n_candidates": 100}, overrides=[])
    methods = compare.default_methods("eq2")
    written = compare.run_all(problem, methods, seeds=[0], budget=10, batch=4, out=tmp_path, tag=tag,
                              log=lambda line: None)
    assert len(written) == len(methods) and not set(methods) & set(compare.OPTUNA_FRONT)
    assert set(compare.default_methods("pareto")) == set(compare.FRONT_METHODS)


def _trade_off_problem(compare):
    """A front like ``proxy --objective pareto``'s: accuracy rises with the cost x0 and with one choice."""
    from trade_pipeline.optim.hypervolume import TradeOff, hypervolume_trace

    dims = (Dimension(), Dimension("categorical", 3), Dimension("ordinal", 4))
    accuracy = lambda points: 20.0 + 60.0 * points[:, 0] * (0.6 + 0.4 * (np.round(points[:, 1] * 3 - 0.5) == 1))  # noqa: E731
    cost = lambda points: points[:, 0] + 0.05  # noqa: E731
    reference = (10.0, 1.1)
    structure = lambda: {"trade_off": TradeOff(cost, (0.0, 100.0), reference), "observe": lambda points: None}  # noqa: E731
    options = lambda strategy: {"n_candidates": 100, "n_global": 50} if strategy == "composite" else {}  # noqa: E731
    return compare.Problem("front", dims, lambda points: np.log(cost(points) / accuracy(points)), 12,
                           strategy_options=options, outcome=accuracy, structure=structure, cost=cost,
                           progress=lambda points: hypervolume_trace(accuracy(points), cost(points), reference))


@pytest.mark.parametrize("method", ["composite", "evolution", "nsga2", "mogp"])
def test_searches_of_a_front_record_its_hypervolume_so_far(compare, report, tmp_path: Path, method: str) -> None:
    compare.run_all(_trade_off_problem(compare), [method, "random"], seeds=[0], budget=12, batch=4, out=tmp_path,
                    tag="t", design_size=4, log=lambda line: None)
    frame = pd.read_csv(tmp_path / "t" / f"{method}-seed0.csv")
    assert frame["evaluation"].tolist() == list(range(1, 13))
    assert (frame["best"].diff().dropna() >= 0).all() and frame["best"].iloc[-1] > 0  # it only grows
    table = report.write_pareto_report(tmp_path / "t", tmp_path / "figures", "pareto", title="t")
    paired = pd.read_csv(tmp_path / "figures" / "pareto_paired.csv") if method == "composite" else None
    assert "hypervolume @12" in table
    if paired is not None:  # a win is the default's hypervolume higher: the differences are the other's minus its
        final = {m: pd.read_csv(tmp_path / "t" / f"{m}-seed0.csv")["best"].iloc[-1] for m in ("composite", "random")}
        assert paired["median_difference"].item() == pytest.approx(final["random"] - final["composite"])
