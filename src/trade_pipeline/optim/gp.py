"""TuRBO's Gaussian-process surrogates and Thompson sampling.

On a continuous cube: ARD Matérn-5/2 (Eriksson et al. 2019). With ordinal or categorical
coordinates: every discrete input is rounded to its bin centre inside the model
(Garrido-Merchán & Hernández-Lobato 2020), so the GP is flat within a bin and never
imagines structure between "kernel 3" and "kernel 5"; categorical coordinates with three or
more choices go through BoTorch's overlap kernel, mixed with the Matérn as in CASMOPOLITAN
(Wan et al. 2021).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import gpytorch
import torch
from botorch.exceptions.errors import ModelFittingError
from botorch.fit import fit_gpytorch_mll
from botorch.models import MixedSingleTaskGP, SingleTaskGP
from botorch.models.transforms.input import InputTransform
from botorch.models.transforms.outcome import Standardize
from botorch.models.kernels.categorical import CategoricalKernel
from botorch.models.utils.gpytorch_modules import get_gaussian_likelihood_with_lognormal_prior
from gpytorch.constraints import GreaterThan, Interval
from gpytorch.kernels import MaternKernel, RBFKernel, ScaleKernel
from gpytorch.likelihoods import FixedNoiseGaussianLikelihood, GaussianLikelihood
from gpytorch.mlls import ExactMarginalLogLikelihood

from trade_pipeline.optim.mixed import MixedSpace
from trade_pipeline.optim.trust_region import TurboConfig

logger = logging.getLogger(__name__)


class SnapToLevels(InputTransform):
    """Input transform rounding each discrete coordinate to its bin centre, on training data
    and on every point the posterior is asked about (``... x d`` -> ``... x d``)."""

    def __init__(self, space: MixedSpace) -> None:
        super().__init__()
        self.space = space
        self.transform_on_train = True
        self.transform_on_eval = True
        self.transform_on_fantasize = True

    def transform(self, X: torch.Tensor) -> torch.Tensor:
        return self.space.snap(X)


def fit_gp(
    train_X: torch.Tensor,
    train_Y: torch.Tensor,
    config: TurboConfig,
    seed: int,
    input_transform: InputTransform | None = None,
) -> SingleTaskGP:
    """ARD Matérn-5/2 GP on standardised outcomes (``train_X``: ``n x d``, ``train_Y``: ``n x 1``).

    If maximising the marginal likelihood fails, the initial hyperparameters are kept: a
    rough model still ranks candidates, whereas an exception would stop the search. ``seed``:
    as :func:`_fit`'s.
    """
    kernel = ScaleKernel(
        _matern(train_X.shape[-1], config),
        outputscale_constraint=Interval(*config.outputscale_bounds),
    )
    model = SingleTaskGP(
        train_X,
        train_Y,
        covar_module=kernel,
        likelihood=_likelihood(config),
        outcome_transform=Standardize(m=1),
        input_transform=input_transform,
    )
    return _fit(model, config.gp_fit_iterations, seed)


def fit_mixed_gp(
    train_X: torch.Tensor, train_Y: torch.Tensor, space: MixedSpace, config: TurboConfig, seed: int
) -> SingleTaskGP:
    """GP for ``space`` (``train_X``: ``n x d``, ``train_Y``: ``n x 1``); exactly :func:`fit_gp`
    when every coordinate is continuous.

    With categoricals, BoTorch's ``MixedSingleTaskGP``: ``(Matérn + overlap) + Matérn x overlap``.
    Both parts share one Matérn, as in CASMOPOLITAN, so each ordered coordinate has one
    lengthscale for the trust region's box (:func:`ordered_lengthscales`).
    """
    snap = SnapToLevels(space) if space.discrete else None
    if not space.categorical:
        return fit_gp(train_X, train_Y, config, seed, input_transform=snap)
    ordered = list(space.ordered)
    shared = _matern(len(ordered), config, active_dims=ordered) if ordered else None
    model = MixedSingleTaskGP(
        train_X,
        train_Y,
        cat_dims=list(space.categorical),
        cont_kernel_factory=lambda **_: shared,
        likelihood=_likelihood(config),
        outcome_transform=Standardize(m=1),
        input_transform=snap,
    )
    for module in model.covar_module.modules():
        if isinstance(module, ScaleKernel):
            module.register_constraint("raw_outputscale", Interval(*config.outputscale_bounds))
    return _fit(model, config.gp_fit_iterations, seed)


def outcome_gp(train_X: torch.Tensor, train_Y: torch.Tensor, space: MixedSpace,
               hyperparameters: Mapping[str, torch.Tensor] | None = None,
               train_Yvar: torch.Tensor | None = None) -> SingleTaskGP:
    """GP of a black-box outcome over the whole space (``n x d``, ``n x 1``), with BoTorch's
    default kernel and priors: lengthscales whose prior grows with the dimension (Hvarfner et
    al. 2024) and a learned noise. With a few dozen points in tens of dimensions, those priors
    rank unseen students' proxy accuracy better than TuRBO's unconstrained fit (docs/turbo.md).
    ``train_Yvar`` (``n x 1``, 0 for a measured point) is the known extra variance of outcomes
    that were estimated, added to the learned noise (:func:`_noisier_estimates`).
    Unfitted, with the raw ``hyperparameters`` of an earlier fit (:func:`hyperparameters`) if
    given: conditioning on new points with known hyperparameters costs no optimisation.
    """
    snap = SnapToLevels(space) if space.discrete else None
    if train_Yvar is not None:  # floored as gpytorch floors fixed noise, so that it need not warn
        train_Yvar = train_Yvar.clamp_min(gpytorch.settings.min_fixed_noise.value(train_Yvar.dtype))
    if space.categorical:
        model = MixedSingleTaskGP(train_X, train_Y, cat_dims=list(space.categorical), train_Yvar=train_Yvar,
                                  outcome_transform=Standardize(m=1), input_transform=snap)
        floor_categorical_lengthscales(model, len(space.categorical))
    else:
        model = SingleTaskGP(train_X, train_Y, train_Yvar, outcome_transform=Standardize(m=1), input_transform=snap)
    if train_Yvar is not None:
        _noisier_estimates(model)
    if hyperparameters is not None:
        model.load_state_dict(_noise_named_for(model, hyperparameters), strict=False)
    return model.eval()


LEARNED_NOISE = "likelihood.noise_covar.raw_noise"
LEARNED_EXTRA_NOISE = "likelihood.second_noise_covar.raw_noise"
"""The learned noise's name in a model without and with known per-point variances."""


def _noisier_estimates(model: SingleTaskGP) -> None:
    """Give ``model`` (built with ``train_Yvar``, which BoTorch then takes as the whole noise) the
    default learned noise, with its prior, on top of the known variances: a measured outcome keeps
    the noise every outcome has (proxy accuracy varies by seed), an estimated one gets its own
    error's variance besides."""
    default = get_gaussian_likelihood_with_lognormal_prior(batch_shape=model._aug_batch_shape).noise_covar
    model.likelihood = FixedNoiseGaussianLikelihood(
        noise=model.likelihood.noise_covar.noise, learn_additional_noise=True, batch_shape=model._aug_batch_shape,
        noise_prior=default.noise_prior, noise_constraint=default.raw_noise_constraint).to(model.train_targets)


def _noise_named_for(model: SingleTaskGP, hyperparameters: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``hyperparameters`` with the learned noise under the name ``model`` gives it: a fit made
    while no outcome was an estimate still serves once one is, and the other way round."""
    names = (LEARNED_NOISE, LEARNED_EXTRA_NOISE)
    wanted = names[isinstance(model.likelihood, FixedNoiseGaussianLikelihood)]
    return {(wanted if name in names else name): value for name, value in hyperparameters.items()}


def floor_categorical_lengthscales(model: SingleTaskGP, n_categorical: int) -> None:
    """Keep every overlap-kernel lengthscale at or above ``1 / n_categorical``: the kernel averages
    ``[choice differs] / lengthscale`` over the categoricals, so a candidate one choice away from an
    evaluated one keeps at least ``exp(-1)`` of that kernel's correlation. BoTorch's bound (1e-6)
    lets a fit on a few dozen points drive lengthscales near 0, after which every unseen
    combination is predicted at the prior mean."""
    for module in model.covar_module.modules():
        if isinstance(module, CategoricalKernel):
            module.register_constraint("raw_lengthscale", GreaterThan(1.0 / n_categorical))


def fit_outcome_gp(train_X: torch.Tensor, train_Y: torch.Tensor, space: MixedSpace,
                   max_iterations: int | None, seed: int, train_Yvar: torch.Tensor | None = None) -> SingleTaskGP:
    """:func:`outcome_gp` with its hyperparameters fitted (``seed``: as :func:`_fit`'s)."""
    return _fit(outcome_gp(train_X, train_Y, space, train_Yvar=train_Yvar), max_iterations, seed)


def hyperparameters(model: SingleTaskGP) -> dict[str, torch.Tensor]:
    """The model's raw (unconstrained) hyperparameters by name: what ``initial`` takes."""
    return {name: parameter.detach().clone() for name, parameter in model.named_parameters()}


def ordered_lengthscales(model: SingleTaskGP) -> torch.Tensor:
    """The lengthscales of the kernel on the continuous and ordinal coordinates (empty if none)."""
    for module in model.covar_module.modules():
        if isinstance(module, (MaternKernel, RBFKernel)) and module.ard_num_dims:
            return module.lengthscale.detach().reshape(-1)
    return torch.empty(0, dtype=torch.float64)


def thompson_samples(
    model: SingleTaskGP, candidates: torch.Tensor, n_samples: int, generator: torch.Generator
) -> torch.Tensor:
    """``n_samples x N`` draws from the joint posterior over ``candidates`` (``N x d``), in the
    objective's own units so that regions with different GPs can be compared."""
    with torch.no_grad(), gpytorch.settings.max_cholesky_size(float("inf")):
        posterior = model.posterior(candidates)
        sample_shape = torch.Size([n_samples])
        base_samples = torch.randn(
            sample_shape + posterior.base_sample_shape, generator=generator, dtype=candidates.dtype
        )
        return posterior.rsample_from_base_samples(sample_shape, base_samples).squeeze(-1)


def _matern(n_dims: int, config: TurboConfig, active_dims: list[int] | None = None) -> MaternKernel:
    return MaternKernel(
        nu=2.5,
        ard_num_dims=n_dims,
        active_dims=active_dims,
        lengthscale_constraint=Interval(*config.lengthscale_bounds),
    )


def _likelihood(config: TurboConfig) -> GaussianLikelihood:
    return GaussianLikelihood(noise_constraint=Interval(*config.noise_bounds))


def _fit(model: SingleTaskGP, max_iterations: int | None, seed: int) -> SingleTaskGP:
    """Maximise the marginal likelihood for at most ``max_iterations`` L-BFGS steps (``None``:
    until converged). TuRBO's ranking of candidates needs rough hyperparameters, not converged
    ones (docs/turbo.md). ``seed`` fixes the hyperparameters BoTorch draws from their priors
    when it restarts a fit that stopped abnormally, which would otherwise come from the
    process's global random state (and so depend on what ran before)."""
    options = {} if max_iterations is None else {"options": {"maxiter": max_iterations}}
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        try:
            fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model), optimizer_kwargs=options)
        except ModelFittingError as error:
            logger.warning("TuRBO GP fit failed (%s); keeping the initial hyperparameters.", error)
    return model.eval()
