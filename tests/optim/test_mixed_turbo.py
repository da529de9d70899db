"""Type-aware TuRBO: choices stay choices, the kernel and trust region respect kinds, and the
budget-aware defaults plan restarts at 50 evaluations and become TuRBO's at 1,000."""

import math

import numpy as np
import pytest
import torch
from gpytorch.mlls import ExactMarginalLogLikelihood

from trade_pipeline.optim.base import Dimension
from trade_pipeline.optim.gp import fit_mixed_gp
from trade_pipeline.optim.mixed import MixedSpace, hamming_radius, mixed_candidates, region_contains
from trade_pipeline.optim.trust_region import TurboConfig, resolve_config
from trade_pipeline.optim.turbo import ContinuousTurbo, Turbo

CATEGORICAL = Dimension("categorical", 4)
ORDINAL = Dimension("ordinal", 5)
TOY = [CATEGORICAL] * 3 + [ORDINAL] * 3
TOY_TARGET = np.array([2, 0, 3, 1, 4, 2])


@pytest.fixture(autouse=True)
def single_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def toy_levels(points: np.ndarray) -> np.ndarray:
    return np.stack([d.level(points[:, j]) for j, d in enumerate(TOY)], axis=1)


def toy(points: np.ndarray) -> np.ndarray:
    """``n x 6`` -> ``n``: wrong choices plus squared level distance; 0 only at ``TOY_TARGET``."""
    levels = toy_levels(points)
    wrong_choices = (levels[:, :3] != TOY_TARGET[:3]).sum(axis=1)
    return wrong_choices + ((levels[:, 3:] - TOY_TARGET[3:]) ** 2).sum(axis=1) / 4.0


def minimise(optimizer, objective, budget: int, batch_size: int) -> np.ndarray:
    while len(optimizer.values) < budget:
        points = optimizer.ask(batch_size)
        optimizer.tell(points, objective(points))
    return optimizer.values


def test_candidates_are_bin_centres_within_the_hamming_radius_and_the_box():
    dims = [Dimension()] * 2 + [ORDINAL] * 4 + [CATEGORICAL] * 4
    space = MixedSpace.from_dimensions(dims)
    center = space.snap(torch.full((10,), 0.5, dtype=torch.float64))
    generator = torch.Generator().manual_seed(0)
    lengthscales = torch.ones(6, dtype=torch.float64)
    candidates = mixed_candidates(center, lengthscales, 0.1, 2, space, 500, 0.8, generator)

    discrete = candidates[:, 2:]
    assert torch.equal(space.snap(candidates), candidates)
    assert ((discrete != center[2:]).sum(dim=1) <= 2).all()
    assert ((candidates != center).any(dim=1)).all()  # every candidate moves something
    assert len(torch.unique(candidates, dim=0)) == len(candidates)
    ordinal_steps = (candidates[:, 2:6] - center[2:6]).abs() * 5
    assert torch.isclose(ordinal_steps[ordinal_steps > 0], torch.tensor(1.0, dtype=torch.float64)).all()
    assert ((candidates[:, :2] - center[:2]).abs() <= 0.05 + 1e-12).all()


def test_a_region_contains_every_candidate_drawn_in_it_and_nothing_past_its_box_or_ball():
    dims = [Dimension()] * 2 + [ORDINAL] * 4 + [CATEGORICAL] * 4
    space = MixedSpace.from_dimensions(dims)
    center = space.snap(torch.full((10,), 0.5, dtype=torch.float64))
    lengthscales = torch.ones(6, dtype=torch.float64)
    drawn = mixed_candidates(center, lengthscales, 0.1, 2, space, 500, 0.8, torch.Generator().manual_seed(0))
    assert region_contains(drawn, center, lengthscales, 0.1, 2, space).all()

    def moved(coordinate: int, value: float) -> torch.Tensor:
        point = center.clone()
        point[coordinate] = value
        return point

    # by hand: the box is 0.1 wide (0.45-0.55) on the continuous coordinates; an ordinal reaches its
    # neighbouring levels (0.3, 0.7) but not two levels away (0.1); a categorical any choice
    points = torch.stack([center, moved(0, 0.54), moved(0, 0.56), moved(2, 0.3), moved(2, 0.1), moved(9, 0.125)])
    assert region_contains(points, center, lengthscales, 0.1, 2, space).tolist() == [True, True, False, True,
                                                                                       False, True]
    three_choices = center.clone()
    three_choices[[6, 7, 8]] = 0.125  # three discrete coordinates changed: past a ball of radius 2
    assert not region_contains(three_choices[None], center, lengthscales, 0.1, 2, space).any()
    assert region_contains(three_choices[None], center, lengthscales, 0.1, 3, space).all()


def test_hamming_radius_shrinks_from_every_choice_to_one_over_the_length_range():
    radii = [hamming_radius(1.6 / 2**k, 32, 0.05, 1.6) for k in range(6)]
    assert radii[0] == 32 and radii[-1] == 1
    assert radii == sorted(radii, reverse=True) and len(set(radii)) == 6
    assert hamming_radius(0.8, 5, 0.8, 0.8) == 5  # no length range: no shrinking


def test_kernel_puts_all_categorical_levels_equally_far_apart_and_rounds_ordinals():
    dims = [CATEGORICAL, ORDINAL]
    space = MixedSpace.from_dimensions(dims)
    rng = np.random.default_rng(0)
    train_X = torch.from_numpy(space.snap_array(rng.random((12, 2))))
    train_Y = torch.from_numpy(rng.random((12, 1)))
    model = fit_mixed_gp(train_X, train_Y, space, TurboConfig(), seed=0)

    levels = torch.tensor([[(k + 0.5) / 4, 0.5] for k in range(4)], dtype=torch.float64)
    with torch.no_grad():
        covariance = model.covar_module(model.input_transform(levels)).to_dense()
    off_diagonal = covariance[~torch.eye(4, dtype=torch.bool)]
    assert torch.allclose(off_diagonal, off_diagonal[0])
    same_bins = torch.tensor([[0.26, 0.41], [0.49, 0.59]], dtype=torch.float64)  # bins (1, 2)
    with torch.no_grad():
        means = model.posterior(same_bins).mean.squeeze(-1)
    assert torch.isclose(means[0], means[1])


def test_gp_fit_stops_at_its_iteration_cap():
    space = MixedSpace.from_dimensions([CATEGORICAL, ORDINAL, Dimension()])
    rng = np.random.default_rng(0)
    train_X = torch.from_numpy(space.snap_array(rng.random((16, 3))))
    train_Y = torch.from_numpy(np.sin(6 * train_X.sum(dim=1, keepdim=True).numpy()))

    def marginal_likelihood(iterations: int) -> float:
        model = fit_mixed_gp(train_X, train_Y, space, TurboConfig(gp_fit_iterations=iterations), seed=0).train()
        mll = ExactMarginalLogLikelihood(model.likelihood, model)
        with torch.no_grad():
            return mll(model(*model.train_inputs), model.train_targets).item()

    assert marginal_likelihood(1) < marginal_likelihood(40) - 1e-3


def test_two_choice_categoricals_are_modelled_like_ordinals():
    space = MixedSpace.from_dimensions([Dimension("categorical", 2), CATEGORICAL, ORDINAL])
    assert space.categorical == (1,) and space.ordered == (0, 2)


def test_finds_the_known_optimum_of_a_small_mixed_problem_and_never_repeats_a_choice():
    optimizer = Turbo(6, seed=0, max_evaluations=48, dimensions=TOY, batch_size=4, n_candidates=300)
    values = minimise(optimizer, toy, 48, 4)
    assert values.min() == 0.0
    choices = {tuple(levels) for levels in toy_levels(optimizer.points).tolist()}
    assert len(choices) == 48
    assert np.array_equal(optimizer.points, MixedSpace.from_dimensions(TOY).snap_array(optimizer.points))


def test_points_told_before_the_first_ask_are_the_first_regions_design():
    optimizer = Turbo(6, seed=1, max_evaluations=40, dimensions=TOY, batch_size=4, n_init=8)
    shared = np.random.default_rng(5).random((6, 6))  # e.g. a benchmark's common initial design
    optimizer.tell(shared, toy(shared))
    region = optimizer.describe()[0]
    assert region["n_observations"] == 6 and region["best_value"] == toy(shared).min()

    points = optimizer.ask(4)
    assert optimizer.last_region_ids == [0, 0, 0, 0]  # two design points, then Thompson's
    optimizer.tell(points, toy(points))
    assert optimizer.describe()[0]["n_observations"] == 10
    shared_choices = {tuple(levels) for levels in toy_levels(shared).tolist()}
    assert not shared_choices & {tuple(levels) for levels in toy_levels(points).tolist()}


def test_with_only_continuous_dimensions_both_variants_propose_the_same_points():
    def ackley_like(points):
        return np.linalg.norm(points - 0.3, axis=1)

    runs = [
        cls(5, seed=2, max_evaluations=24, batch_size=4, n_candidates=200)
        for cls in (Turbo, ContinuousTurbo)
    ]
    histories = [minimise(optimizer, ackley_like, 24, 4) for optimizer in runs]
    np.testing.assert_array_equal(runs[0].points, runs[1].points)
    np.testing.assert_array_equal(*histories)


def test_continuous_variant_ignores_dimension_kinds():
    optimizer = ContinuousTurbo(6, seed=0, dimensions=TOY, batch_size=4, n_init=4)
    design = optimizer.ask(4)
    assert not np.array_equal(design, MixedSpace.from_dimensions(TOY).snap_array(design))


def test_derived_defaults_shrink_and_restart_within_50_evaluations():
    settings = resolve_config(TurboConfig(), dim=30, batch_size=4, max_evaluations=50)
    halvings = math.ceil(math.log2(settings.length_init / settings.length_min))
    assert (settings.n_init, settings.failure_tolerance, halvings) == (8, 2, 2)
    assert settings.n_init + 4 * settings.failure_tolerance * halvings <= 50 / 2

    dims = [Dimension("ordinal", 2)] * 20 + [Dimension("ordinal", 3)] * 6 + [Dimension("categorical", 2)] * 4
    optimizer = Turbo(30, seed=0, max_evaluations=50, dimensions=dims, batch_size=4, n_candidates=200)
    while len(optimizer.values) < 50:  # every batch is worse than the design's best
        points = optimizer.ask(4)
        optimizer.tell(points, np.full(len(points), 100.0 + len(optimizer.values)))
    assert optimizer.describe()[0]["restarts"] >= 1


def test_derived_defaults_are_turbos_at_1000_evaluations_and_explicit_values_win():
    settings = resolve_config(TurboConfig(), dim=20, batch_size=4, max_evaluations=1000)
    assert settings.n_init == 40 and settings.failure_tolerance == 5
    assert settings.success_tolerance == 3
    assert 0.8 / 2**7 < settings.length_min <= 0.8 / 2**6  # restarts after 7 halvings, as 0.5^7
    assert resolve_config(TurboConfig(), 20, 4, None) == settings

    app_c = TurboConfig(success_tolerance=2, failure_tolerance=2, length_min=0.05, n_init=8)
    explicit = resolve_config(app_c, dim=20, batch_size=4, max_evaluations=1000)
    assert (explicit.success_tolerance, explicit.failure_tolerance) == (2, 2)
    assert (explicit.length_min, explicit.n_init) == (0.05, 8)
