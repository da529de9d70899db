"""The composite strategy: a model of the black-box outcome, the objective computed from known outcomes."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from trade_pipeline.optim import OPTIMIZERS, CompositeObjective, CompositeTurbo, Dimension, Turbo, create_optimizer

DIMENSIONS = [Dimension("ordinal", 5)] * 4 + [Dimension("categorical", 2)] * 2 + [Dimension()] * 2
TARGET, EPSILON = 50.0, 0.01


def accuracy(points: np.ndarray) -> np.ndarray:
    """The black box: reaches the target only where x0 + x1 > 1 (half the cube)."""
    return 100.0 / (1.0 + np.exp(-8.0 * (points[:, 0] + points[:, 1] - 1.0)))


def known(points: np.ndarray) -> np.ndarray:
    """Costs known before evaluation; cheapest where x2 and x3 are small."""
    return np.column_stack([points[:, 2] + 0.05, points[:, 3] + 0.05, 0.1 + 0.2 * (points[:, 4] > 0.5)])


def log_score(acc: torch.Tensor, ratios: torch.Tensor) -> torch.Tensor:
    """Eq. 2's shape: a 1/epsilon plateau below the target, cost-driven above it."""
    meets = (acc >= TARGET).to(acc.dtype)
    return np.log(TARGET) - torch.log(acc) - torch.log(meets + EPSILON) + torch.log(ratios.sum(-1))


def value(points: np.ndarray) -> np.ndarray:
    return log_score(torch.from_numpy(accuracy(points)), torch.from_numpy(known(points))).numpy()


OBJECTIVE = CompositeObjective(known=known, value=log_score, bounds=(0.0, 100.0))


def run(optimizer, budget: int, batch: int = 4) -> list[np.ndarray]:
    asked = []
    while len(optimizer.values) < budget:
        points = optimizer.ask(batch)
        asked.append(points)
        optimizer.tell(points, value(points), accuracy(points))
    return asked


def composite(seed: int = 0, **options) -> CompositeTurbo:
    return CompositeTurbo(len(DIMENSIONS), seed, dimensions=DIMENSIONS, max_evaluations=24, batch_size=4,
                          objective=OBJECTIVE, n_candidates=300, n_global=200, **options)


def test_after_the_design_it_proposes_candidates_in_the_feasible_region() -> None:
    optimizer = composite()
    asked = run(optimizer, 24)
    guided = np.vstack(asked[optimizer.n_init // 4:])
    assert len(guided) == 24 - optimizer.n_init >= 16
    assert (accuracy(guided) >= TARGET).mean() >= 0.75  # uniform points: 0.5
    assert np.nanmin(optimizer.values) < np.nanmin(optimizer.values[: optimizer.n_init])


def test_model_guided_points_carry_the_predicted_outcome_and_its_probability_design_points_none() -> None:
    optimizer = CompositeTurbo(len(DIMENSIONS), 0, dimensions=DIMENSIONS, max_evaluations=24, batch_size=4,
                               objective=dataclasses.replace(OBJECTIVE, threshold=TARGET), n_candidates=300,
                               n_global=200)
    design = optimizer.ask(4)
    assert optimizer.last_guidance == [{"guided": False, "predicted": None, "p_feasible": None}] * 4
    optimizer.tell(design, value(design), accuracy(design))
    optimizer.tell(*(lambda p: (p, value(p), accuracy(p)))(optimizer.ask(4)))
    optimizer.ask(4)
    guidance = optimizer.last_guidance
    assert len(guidance) == 4 and all(g["guided"] and 0.0 <= g["predicted"] <= 100.0 for g in guidance)
    assert all(0.0 <= g["p_feasible"] <= 1.0 for g in guidance)


def test_without_a_composite_objective_it_is_the_type_aware_turbo_draw_for_draw() -> None:
    options = dict(dimensions=DIMENSIONS, max_evaluations=20, batch_size=4, n_candidates=200)
    asked = run(CompositeTurbo(len(DIMENSIONS), 3, **options), 20)
    reference = run(Turbo(len(DIMENSIONS), 3, **options), 20)
    np.testing.assert_array_equal(np.vstack(asked), np.vstack(reference))


@pytest.mark.parametrize("strategy", sorted(OPTIMIZERS))
def test_no_strategy_proposes_a_point_its_feasible_filter_refuses(strategy: str) -> None:
    within_budget = lambda point: known(point[None])[0, :2].sum() <= 0.8  # noqa: E731 - about half the cube
    options = {"batch_size": 4} if issubclass(OPTIMIZERS[strategy], Turbo) else {}
    if strategy == "composite":
        options.update(objective=OBJECTIVE, n_candidates=200, n_global=100)
    optimizer = create_optimizer(strategy, len(DIMENSIONS), 0, dimensions=DIMENSIONS, max_evaluations=16,
                                 feasible=within_budget, **options)
    asked = np.vstack(run(optimizer, 16))
    assert len(asked) == 16 and all(within_budget(point) for point in asked)
    assert optimizer.filtered > 0
@pytest.mark.parametrize("fit", ["outcome", "mixed", "continuous"])
def test_every_gp_fit_draws_restarts_from_its_seed_not_from_the_processs_random_state(monkeypatch, fit) -> None:
    """BoTorch restarts an abnormal fit from hyperparameters drawn with torch's global generator;
    under the fit's own seed, a resumed or busy process gets the same model (composite's outcome
    model, TuRBO's and LA-MCTS's)."""
    from trade_pipeline.optim import gp
    from trade_pipeline.optim.mixed import MixedSpace
    from trade_pipeline.optim.trust_region import TurboConfig

    def drawing_fit(mll, **options):  # stands in for a fit that restarts from the priors
        mll.model.drawn = torch.rand(3)

    monkeypatch.setattr(gp, "fit_gpytorch_mll", drawing_fit)
    space = MixedSpace.from_dimensions(DIMENSIONS)
    train_X = torch.rand(6, len(DIMENSIONS), dtype=torch.float64)
    train_Y = torch.rand(6, 1, dtype=torch.float64)
    fits = {"outcome": lambda: gp.fit_outcome_gp(train_X, train_Y, space, 40, seed=7),
            "mixed": lambda: gp.fit_mixed_gp(train_X, train_Y, space, TurboConfig(), seed=7),
            "continuous": lambda: gp.fit_gp(train_X, train_Y, TurboConfig(), seed=7)}
    drawn = []
    for global_seed in (0, 12345):
        torch.manual_seed(global_seed)
        drawn.append(fits[fit]().drawn)
        after = torch.rand(1)
        torch.manual_seed(global_seed)
        assert torch.equal(after, torch.rand(1))  # and the global stream is left where it was
    assert torch.equal(drawn[0], drawn[1])


def test_hyperparameters_are_refitted_every_few_evaluations_and_restored_on_resume() -> None:
    import json

    optimizer = composite(refit_every=8)
    run(optimizer, 16)
    state = json.loads(json.dumps(optimizer.state_dict(), allow_nan=False))
    assert state["fitted_on"] == 12  # first fit after the 4-point design, again at 12
    restored = CompositeTurbo(len(DIMENSIONS), 5, dimensions=DIMENSIONS, objective=OBJECTIVE)
    restored.load_state_dict(state)
    asked = [resumed.ask(4) for resumed in (optimizer, restored)]  # 16: saved hyperparameters, new points
    np.testing.assert_array_equal(*asked)
    for resumed, points in zip((optimizer, restored), asked):
        resumed.tell(points, value(points), accuracy(points))
        assert resumed.state_dict()["outcome_hyperparameters"] == state["outcome_hyperparameters"]
    np.testing.assert_array_equal(optimizer.ask(4), restored.ask(4))  # 20: fitted again
    assert optimizer.state_dict()["fitted_on"] == 20


def test_conditional_coordinates_are_canonicalised_so_one_candidate_is_one_point() -> None:
    from trade_pipeline.optim.mixed import MixedSpace

    # coordinate 1 matters only while coordinate 0 is at level 1 or 2 (of 3), coordinate 2 only
    # while coordinate 1 is at level 1: a chain, resolved parents first
    space = MixedSpace.from_dimensions([Dimension("ordinal", 3), Dimension("ordinal", 2, active_if=(0, (1, 2))),
                                        Dimension("categorical", 4, active_if=(1, (1,))), Dimension()])
    points = torch.tensor([[0.1, 0.9, 0.9, 0.3], [0.5, 0.9, 0.9, 0.3], [0.5, 0.2, 0.9, 0.3]], dtype=torch.float64)
    expected = torch.tensor([[1 / 6, 0.25, 0.125, 0.3], [0.5, 0.75, 0.875, 0.3], [0.5, 0.25, 0.125, 0.3]],
                            dtype=torch.float64)
    torch.testing.assert_close(space.canonical(points), expected)
    with pytest.raises(ValueError, match="must name an earlier discrete coordinate"):
        MixedSpace.from_dimensions([Dimension("ordinal", 2, active_if=(1, (1,))), Dimension("ordinal", 2)])


def test_an_outcome_told_as_an_estimate_moves_the_model_less_than_a_measured_one() -> None:
    """A pruned student is told its likely final accuracy with that estimate's deviation: the model
    takes it as a noisier outcome, on top of the noise it learns for every measured one."""
    from trade_pipeline.optim.gp import fit_outcome_gp, hyperparameters, outcome_gp
    from trade_pipeline.optim.mixed import MixedSpace

    space = MixedSpace(levels=(0, 0), categorical=())
    grid = torch.linspace(0.1, 0.9, 5, dtype=torch.float64)
    X = torch.cartesian_prod(grid, grid)
    smooth = X.sum(dim=-1, keepdim=True) - 1.0
    fit = fit_outcome_gp(X, smooth, space, 40, seed=0)
    fitted = hyperparameters(fit)
    told = smooth.clone()
    told[12] += 1.0  # the centre is then told above the plane of its neighbours
    extra = torch.zeros_like(told)
    extra[12] = 4.0
    measured, estimated = outcome_gp(X, told, space, fitted), outcome_gp(X, told, space, fitted, train_Yvar=extra)
    # the fit's learned noise carries over, under the name it has beside known variances
    assert estimated.likelihood.second_noise.item() == pytest.approx(fit.likelihood.noise.item())
    with torch.no_grad():
        before = fit.posterior(X[12:13]).mean.item()
        moved = {name: model.posterior(X[12:13]).mean.item() - before
                 for name, model in (("measured", measured), ("estimated", estimated))}
        assert moved["measured"] > 0.1
        assert 0 <= moved["estimated"] < moved["measured"] / 10  # an estimate this uncertain is mostly discounted
        # no extra variance anywhere: the measured model (up to gpytorch's floor on a fixed noise, 1e-6)
        same = outcome_gp(X, told, space, fitted, train_Yvar=torch.zeros_like(told))
        torch.testing.assert_close(same.posterior(X).mean, measured.posterior(X).mean, atol=0.01, rtol=0)


def test_an_outcomes_deviation_is_carried_to_the_logit_scale_to_first_order() -> None:
    from trade_pipeline.optim.logit import logit_variance

    # d logit / d accuracy = 1 / (100 p (1 - p)): 1/25 at 50 %, 1/16 at 80 %
    torch.testing.assert_close(logit_variance(torch.tensor([50.0, 80.0], dtype=torch.float64),
                                              torch.tensor([2.5, 3.2], dtype=torch.float64)),
                               torch.tensor([0.01, 0.04], dtype=torch.float64))
