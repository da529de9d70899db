"""The ``search`` parameters (conf/<env>/parameters_search.yml), one pydantic model checked at start-up.

Kedro validates ``params:search`` against :class:`SearchParams` before the first dataset is
loaded, so a typo anywhere under ``search`` (the space, the strategy's options, the proxy
recipe) stops the run before any work.
"""
from __future__ import annotations

from typing import Literal, Union

from pydantic import Field, field_validator, model_validator

from trade_pipeline.config import Device, Section, Seed, StrictModel
from trade_pipeline.executors import DaskParams
from trade_pipeline.optim import OPTIMIZERS, CompositeConfig, EvolutionConfig, LaMCTSConfig, ReinforceConfig, TurboConfig
from trade_pipeline.profiling import ProfileSettings
from trade_pipeline.search.fidelity import FidelityParams
from trade_pipeline.search.pruning import PruningParams
from trade_pipeline.search.score import Budget, ParetoParams
from trade_pipeline.students.space import SpaceConfig
from trade_pipeline.training.recipe import ProxyRecipe


class ScoreParams(StrictModel):
    """Eq. 2: ``acc_target`` in proxy top-1 percent, or the proxy accuracy of a reference student."""

    epsilon: float = Field(default=0.01, gt=0)
    acc_target: Union[float, None] = Field(default=None, gt=0, le=100)
    reference_student: Union[str, None] = None

    @field_validator("reference_student")
    @classmethod
    def _timm_knows_it(cls, name: str | None) -> str | None:
        from trade_pipeline.models import check_timm_name

        return name if name is None else check_timm_name(name)

    @model_validator(mode="after")
    def _one_target(self) -> ScoreParams:
        if (self.acc_target is None) == (self.reference_student is None):
            raise ValueError("set exactly one of search.score.acc_target (a top-1 %) or "
                             "search.score.reference_student (a timm model name)")
        return self


class SearchParams(Section):
    """Everything under ``search``; each strategy's options live under its own name."""

    section = "search"

    strategy: str = "composite"
    objective: Literal["eq2", "pareto"] = "eq2"
    """``eq2``: minimise Eq. 2 at ``score``'s target (the paper); ``pareto``: grow the front of proxy
    accuracy against ``s`` and read Eq. 2 off it at any target afterwards (docs/search.md)."""
    n_trials: int = Field(default=50, ge=1)
    batch_size: int = Field(default=4, ge=1)
    seed: Seed = 0
    resume: bool = True
    state_dir: str = "data/07_model_output/search_state"
    device: Device = "cpu"
    executor: Literal["local", "dask"] = "local"
    dask: DaskParams = DaskParams()
    composite: CompositeConfig = CompositeConfig()
    turbo: TurboConfig = TurboConfig()
    evolution: EvolutionConfig = EvolutionConfig()
    lamcts: LaMCTSConfig = LaMCTSConfig()
    rl: ReinforceConfig = ReinforceConfig()
    proxy: ProxyRecipe = ProxyRecipe()
    fidelity: FidelityParams = FidelityParams()
    pruning: PruningParams = PruningParams()
    pareto: ParetoParams = ParetoParams()
    score: ScoreParams
    budget: Budget = Budget()
    profile: ProfileSettings = ProfileSettings()
    top_k: int = Field(default=3, ge=1)
    hard_label_search: bool = False  # also search with kd_alpha 0: Table 2's "searched with hard labels" rows
    space: SpaceConfig


    @field_validator("strategy")
    @classmethod
    def _known_strategy(cls, strategy: str) -> str:
        if strategy not in OPTIMIZERS:
            raise ValueError(f"unknown strategy {strategy!r}; use one of {', '.join(sorted(OPTIMIZERS))}")
        return strategy

    @classmethod
    def option_blocks(cls) -> dict[type, str]:
        """Strategy settings model -> the key holding it (``turbo_continuous`` reads ``turbo``)."""
        models = {optimizer.config_class for optimizer in OPTIMIZERS.values()}
        return {field.annotation: name for name, field in cls.model_fields.items() if field.annotation in models}

    @model_validator(mode="after")
    def _hard_labels_differ(self) -> SearchParams:
        if self.hard_label_search and self.proxy.kd_alpha == 0:
            raise ValueError("search.hard_label_search repeats the search with search.proxy.kd_alpha 0, which "
                             "the search already uses; set kd_alpha above 0 or hard_label_search false")
        return self

    @model_validator(mode="after")
    def _one_multi_fidelity_mechanism(self) -> SearchParams:
        if self.pruning.enabled and self.fidelity.enabled:
            raise ValueError("search.pruning and search.fidelity both cut the proxy's compute; enable one of them")
        if self.pruning.enabled and self.proxy.epochs is None:
            raise ValueError("search.pruning probes shares of the proxy's epochs; give search.proxy.epochs, not steps")
        return self

    @model_validator(mode="after")
    def _pareto_needs_a_front_search(self) -> SearchParams:
        if self.objective != "pareto":
            return self
        if not OPTIMIZERS[self.strategy].multi_objective:
            able = sorted(name for name, optimizer in OPTIMIZERS.items() if optimizer.multi_objective)
            raise ValueError(f"search.objective pareto needs a strategy that searches a front; {self.strategy!r} "
                             f"minimises one value. Use one of {', '.join(able)}")
        if self.pruning.enabled or self.fidelity.enabled:
            raise ValueError("search.pruning and search.fidelity judge students against Eq. 2's target; "
                             "search.objective pareto has none, so switch them off")
        return self

    def hard_label_variant(self) -> SearchParams:
        """The same search with hard labels only (the proxy's ``kd_alpha`` 0), keeping its own
        state beside the distilled search's, so each resumes on its own."""
        return self.model_copy(update={"proxy": self.proxy.model_copy(update={"kd_alpha": 0.0}),
                                       "state_dir": f"{self.state_dir.rstrip('/')}_hard_label",
                                       "hard_label_search": False})

    @property
    def strategy_options(self) -> StrictModel | None:
        """The chosen strategy's settings (``search.<its block>``), None if it has none."""
        config_class = OPTIMIZERS[self.strategy].config_class
        return getattr(self, self.option_blocks()[config_class]) if config_class else None
