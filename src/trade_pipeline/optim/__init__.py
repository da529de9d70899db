"""Black-box minimisers on the unit cube behind ask/tell; they know nothing about networks."""

from __future__ import annotations

from trade_pipeline.optim.base import AskTellOptimizer, Canonicalize, Dimension
from trade_pipeline.optim.composite import CompositeConfig, CompositeObjective, CompositeTurbo
from trade_pipeline.optim.evolution import EvolutionConfig, RegularizedEvolution
from trade_pipeline.optim.lamcts import LaMCTS, LaMCTSConfig
from trade_pipeline.optim.random_search import RandomSearch
from trade_pipeline.optim.rl import Reinforce, ReinforceConfig
from trade_pipeline.optim.trust_region import TurboConfig
from trade_pipeline.optim.turbo import ContinuousTurbo, Turbo

OPTIMIZERS: dict[str, type[AskTellOptimizer]] = {
    optimizer.strategy: optimizer
    for optimizer in (CompositeTurbo, Turbo, ContinuousTurbo, RandomSearch, RegularizedEvolution, LaMCTS, Reinforce)
}


def create_optimizer(strategy: str, dim: int, seed: int, **options) -> AskTellOptimizer:
    """The optimizer named by ``search.strategy``; ``options`` go to its constructor."""
    if strategy not in OPTIMIZERS:
        raise ValueError(
            f"search.strategy={strategy!r} is not available; allowed values: {sorted(OPTIMIZERS)}."
        )
    return OPTIMIZERS[strategy](dim, seed, **options)


__all__ = [
    "AskTellOptimizer",
    "Canonicalize",
    "CompositeConfig",
    "CompositeObjective",
    "CompositeTurbo",
    "ContinuousTurbo",
    "Dimension",
    "EvolutionConfig",
    "LaMCTS",
    "LaMCTSConfig",
    "OPTIMIZERS",
    "RandomSearch",
    "RegularizedEvolution",
    "Reinforce",
    "ReinforceConfig",
    "Turbo",
    "TurboConfig",
    "create_optimizer",
]
