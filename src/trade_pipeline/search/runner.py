"""The search loop: ask a batch, evaluate it, record every row durably, tell, checkpoint.

On a ``search.fidelity`` ladder a batch is a bracket: it is evaluated rung by rung, the best of
each rung promoted to the next (``fidelity.promotions``), and the optimizer is told each asked
candidate once, at the end of the bracket (``fidelity.bracket_estimates``).

State lives in ``search.state_dir``: ``trials.jsonl`` (one line per finished candidate,
appended the moment it is known), the one record of what was evaluated, and ``state.json``
(what the log cannot give: the optimizer's random state, trust regions and pending points, the
batch in flight, the trust-region trace), rewritten atomically after each ask and each tell.
A killed search rerun with ``search.resume: true`` rebuilds the optimizer's history from the
log, re-evaluates only the candidates of the interrupted batch that never reached it, then
goes on to ``search.n_trials``.
"""
from __future__ import annotations

import dataclasses
import logging
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from trade_pipeline.errors import InputError
from trade_pipeline.executors import create_executor, executor_options
from trade_pipeline.optim import OPTIMIZERS, AskTellOptimizer, create_optimizer
from trade_pipeline.search.checkpoint import (
    FINGERPRINT_KEY,
    FRESH_START_HINT,
    ResumeError,
    check_resume,
    load_search_state,
    save_search_state,
)
from trade_pipeline.search.config import SearchParams
from trade_pipeline.search.costs import CandidateCosts, accuracy_cost_trade_off, composite_objective
from trade_pipeline.search.fidelity import bracket_estimates, highest_rows, promotions, rung_maps
from trade_pipeline.search.objective import Candidate, ObjectiveContext, evaluate_candidate
from trade_pipeline.search.pruning import pruning_rule
from trade_pipeline.search.tracking import CandidateTracker
from trade_pipeline.search.trials import TrialLog, TrialRow
from trade_pipeline.serialization import set_aside

logger = logging.getLogger(__name__)


class InfeasibleBudgetError(InputError):
    """No candidate of the initial design met ``search.budget``."""


class CandidatesFailedError(RuntimeError):
    """Every candidate of the initial design failed to train."""


@dataclass
class SearchResult:
    trials: pd.DataFrame
    trace: list[dict[str, Any]]
    filtered: int  # proposals refused before evaluation because their known costs broke search.budget
    latency_error: float | None  # median relative error of the latency model's predictions


@dataclass
class SearchState:
    """What the trial log cannot give (``state.json``): the batch in flight, the ids and the
    trust-region trace, next to the optimizer's own state."""

    fingerprint: dict[str, str]
    iteration: int = 0  # brackets told so far
    next_trial_id: int = 0
    pending: list[Candidate] = field(default_factory=list)  # the bracket being evaluated
    trace: list[dict[str, Any]] = field(default_factory=list)  # trust-region lengths after each bracket

    @classmethod
    def from_saved(cls, saved: dict[str, Any]) -> SearchState:
        return cls(fingerprint=saved[FINGERPRINT_KEY], iteration=saved["iteration"],
                   next_trial_id=saved["next_trial_id"], pending=[Candidate(**c) for c in saved["pending"]],
                   trace=list(saved["trace"]))

    def to_dict(self) -> dict[str, Any]:
        return {FINGERPRINT_KEY: self.fingerprint, "iteration": self.iteration, "next_trial_id": self.next_trial_id,
                "pending": [dataclasses.asdict(c) for c in self.pending], "trace": self.trace}


@dataclass
class _Search:
    """One search's working parts, put together by :func:`_start` (fresh or resumed)."""

    state_dir: Path
    state: SearchState
    optimizer: AskTellOptimizer
    costs: CandidateCosts
    log: TrialLog
    rows: dict[int, TrialRow]  # every trial-log row by trial id
    tracker: CandidateTracker

    def save(self) -> None:
        save_search_state(self.state_dir / "state.json",
                          {**self.state.to_dict(), "optimizer": self.optimizer.state_dict(history=False)})


def run_search(context: ObjectiveContext, params: SearchParams, fingerprint: dict[str, str],
               evaluate: Callable[[Candidate, str], TrialRow] | None = None) -> SearchResult:
    """Runs (or resumes) the search until ``params.n_trials`` candidates are in the log.

    ``fingerprint`` (``checkpoint.search_fingerprint``) must match the saved state's to resume.
    ``evaluate(candidate, device) -> trial row`` defaults to training it
    (``objective.evaluate_candidate``); benchmarks pass a memoised one.
    """
    search = _start(context, params, fingerprint)
    feasibility_check_at = min(params.n_trials, max(params.batch_size, search.optimizer.initial_evaluations))
    candidates_done = sum(row["rung"] == 0 for row in search.rows.values())
    with create_executor(params.executor, **executor_options(params.executor, params.device, params.dask)) as executor, \
            tqdm(total=params.n_trials, initial=candidates_done, desc=f"search ({params.strategy})", unit="trial") as bar:
        evaluate = evaluate or partial(evaluate_candidate, context=context)

        def record(row: TrialRow) -> None:
            search.log.append(row)
            search.rows[row["trial_id"]] = row
            student_checkpoint(search.state_dir, row["trial_id"]).unlink(missing_ok=True)  # the log has it now
            search.tracker.log_trial(row)
            bar.update(int(row["rung"] == 0))  # the bar counts candidates; promotions show in the postfix
            bar.set_postfix_str(_best_summary(search.rows))

        while bracket := search.state.pending or _ask(search.optimizer, search.costs, params, search.state.iteration,
                                                      search.state.next_trial_id):
            _run_bracket(search, bracket, context, params,
                         lambda batch: executor.map(evaluate, batch, on_result=record))
            if len(search.rows) >= feasibility_check_at:
                _require_feasible(search.rows)
                _require_a_trained_candidate(search.rows)
    return SearchResult(trials=search.log.to_dataframe(), trace=search.state.trace, filtered=search.optimizer.filtered,
                        latency_error=search.costs.latency_error)


def _start(context: ObjectiveContext, params: SearchParams, fingerprint: dict[str, str]) -> _Search:
    """A fresh search, or the saved one with its optimizer's history rebuilt from the trial log
    (every row but those of the bracket in flight) and every row replayed to MLflow."""
    state_dir = Path(params.state_dir)
    log = TrialLog(state_dir / "trials.jsonl")
    saved = load_search_state(state_dir / "state.json")
    resuming = check_resume(saved, fingerprint, params.resume)
    if not resuming and (saved is not None or log.path.exists()):
        logger.warning("Starting a fresh search; earlier state moved to %s", set_aside(state_dir))
    costs = CandidateCosts(context.space, context.split.channels, context.split.num_classes, context.teacher_costs,
                           context.budget)
    optimizer = _make_optimizer(params, context, costs)
    state = SearchState.from_saved(saved) if resuming else SearchState(fingerprint)
    rows = {row["trial_id"]: row for row in log.rows()}
    in_flight = {candidate.trial_id for candidate in state.pending}
    told = [row for trial_id, row in sorted(rows.items()) if trial_id not in in_flight]
    if resuming:  # the log is the record of evaluations; the state holds only what it cannot give
        try:
            optimizer.load_state_dict(saved["optimizer"], history=_told_history(told, context, params))
        except ValueError as error:
            raise ResumeError(f"cannot resume from {state_dir}: {error}. Start fresh with "
                              f"`{FRESH_START_HINT}`.") from error
        optimizer.max_evaluations = params.n_trials  # a resumed run may be asked for more trials
        logger.info("Resuming the search from %s: %d trials done.", state_dir, len(rows))
    costs.observe(told)
    tracker = CandidateTracker()
    for row in rows.values():
        tracker.log_trial(row, resumed=True)
    return _Search(state_dir, state, optimizer, costs, log, rows, tracker)


def _run_bracket(search: _Search, bracket: list[Candidate], context: ObjectiveContext, params: SearchParams,
                 evaluate_all: Callable[[list[Candidate]], None]) -> None:
    """One step of the search, and the one that moves its state: takes ``bracket``'s trial ids,
    evaluates it rung by rung (what the log lacks), promoting the best of each rung, then tells
    the optimizer; the state is saved before the first evaluation and after the tell."""
    state = search.state
    state.pending = bracket
    state.next_trial_id = max(state.next_trial_id, 1 + max(c.trial_id for c in bracket))
    search.save()
    rule = pruning_rule((row for row in search.rows.values() if row["iteration"] < state.iteration), params.pruning,
                        context.proxy_updates, context.score)
    for rung in range(params.fidelity.top + 1):
        evaluate_all([dataclasses.replace(c, prune=rule, checkpoint=str(student_checkpoint(search.state_dir, c.trial_id)))
                      for c in bracket if c.rung == rung and c.trial_id not in search.rows])
        if rung < params.fidelity.top and not any(c.rung == rung + 1 for c in bracket):
            bracket = state.pending = bracket + _promote(bracket, rung, search.rows, context, params,
                                                         state.next_trial_id)
            state.next_trial_id = max(c.trial_id for c in bracket) + 1
            search.save()
    history = _history([c for c in bracket if c.rung == 0], search.rows, context, params)
    search.optimizer.tell(**history)
    search.costs.observe(search.rows[c.trial_id] for c in bracket)
    state.pending = []
    state.iteration += 1
    state.trace += _trace_rows(search.optimizer.describe(), len(search.optimizer.values), state.trace)
    search.save()


def student_checkpoint(state_dir: Path, trial_id: int) -> Path:
    """Where trial ``trial_id``'s proxy run saves its state after each epoch until its row is
    logged: a search killed mid-student resumes that student from its last finished epoch."""
    return state_dir / "students" / f"trial-{trial_id}.safetensors"


def _ask(optimizer: AskTellOptimizer, costs: CandidateCosts, params: SearchParams, iteration: int, first_id: int
         ) -> list[Candidate]:
    """The optimizer's next batch as candidates of bracket ``iteration`` with trial ids from
    ``first_id``, or none when the budget is spent or nothing new within ``search.budget`` is left."""
    remaining = params.n_trials - len(optimizer.values)
    if remaining <= 0:
        return []
    points = optimizer.ask(min(params.batch_size, remaining))
    if len(points) == 0:
        if optimizer.filtered and not np.isfinite(optimizer.values).any():
            raise InfeasibleBudgetError(
                f"every candidate the {params.strategy} strategy proposed broke search.budget on the costs known before "
                f"training ({optimizer.filtered} refused, none trained). Loosen search.budget or narrow search.space "
                "towards smaller students.")
        logger.warning("No unevaluated architecture within search.budget is left (%d proposals refused on their "
                       "known costs); stopping early.", optimizer.filtered)
        return []
    # the TuRBO trust region or LA-MCTS leaf that proposed each point; none for strategies without regions
    regions = optimizer.last_region_ids if optimizer.describe() else [-1] * len(points)
    guidance = optimizer.last_guidance
    latencies = costs.costs(points)[:, 2]
    return [
        Candidate(trial_id=first_id + i, iteration=iteration, point=tuple(float(v) for v in point),
                  trust_region=regions[i] if regions[i] >= 0 else None, predicted_accuracy=guidance[i]["predicted"],
                  p_feasible=guidance[i]["p_feasible"], guided=guidance[i]["guided"],
                  predicted_latency_ms=float(latencies[i]) if math.isfinite(latencies[i]) else None)
        for i, point in enumerate(points)
    ]


def _history(asked: list[Candidate], rows: dict[int, TrialRow], context: ObjectiveContext,
             params: SearchParams) -> dict[str, np.ndarray]:
    """What the optimizer is told of one bracket: each asked candidate's point, log(Score) (NaN,
    imputed by the optimizer, for failures and rejects) and proxy accuracy (NaN where none); a
    promoted candidate is told its top-rung row's, one stopped below the top rung its accuracy
    mapped to the top (``fidelity.bracket_estimates``, fitted on this and the earlier brackets). A
    pruned student's accuracy is an estimate, told with its deviation (``outcome_sd``, NaN for
    the rest) from the rule its bracket ran under, which the earlier brackets give again."""
    iteration = asked[0].iteration if asked else -1
    seen = [row for row in rows.values() if row["iteration"] <= iteration]
    bracket = [row for row in seen if row["iteration"] == iteration]
    estimates = bracket_estimates(bracket, rung_maps(seen, params.fidelity), params.fidelity)
    highest = highest_rows(bracket)
    reached = [highest[rows[c.trial_id]["spec_hash"]] for c in asked]
    accuracies = [estimates[row["spec_hash"]] for row in reached]
    pruned = any(row["status"] == "pruned" for row in reached)
    rule = pruning_rule((row for row in seen if row["iteration"] < iteration), params.pruning,
                        context.proxy_updates, context.score) if pruned else None
    return {
        "points": np.array([c.point for c in asked], dtype=np.float64).reshape(-1, context.space.dimension),
        "values": np.array([_estimated_value(row, accuracy, context) for row, accuracy in zip(reached, accuracies)]),
        "outcomes": np.array([math.nan if accuracy is None else accuracy for accuracy in accuracies]),
        "outcome_sd": np.array([rule.estimate_sd(*row["curve"][-1]) if row["status"] == "pruned" else math.nan
                                for row in reached]),
    }


def _told_history(told: list[TrialRow], context: ObjectiveContext, params: SearchParams) -> dict[str, np.ndarray]:
    """:func:`_history` of every finished bracket in ``told`` (trial-log rows), in the order told."""
    rows = {row["trial_id"]: row for row in told}
    parts = [_history([_as_candidate(row) for row in told if row["iteration"] == iteration and row["rung"] == 0],
                      rows, context, params)
             for iteration in sorted({row["iteration"] for row in told})]
    if not parts:
        return _history([], rows, context, params)
    return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}


def _as_candidate(row: TrialRow) -> Candidate:
    return Candidate(trial_id=row["trial_id"], iteration=row["iteration"], point=tuple(row["encoding"]),
                     trust_region=row["trust_region"], rung=row["rung"])


def _estimated_value(row: TrialRow, accuracy: float | None, context: ObjectiveContext) -> float:
    """log(Score) of ``row``'s student at its estimated top-rung ``accuracy`` (its own value when
    it was scored on the whole top rung; a pruned one's at its likely final accuracy); NaN where
    it failed, was refused or learned nothing."""
    if row["status"] not in ("ok", "pruned") or accuracy is None or row["resource_ratio"] is None:
        return math.nan
    if row["status"] == "ok" and row["fidelity"] == 1.0 and context.objective == "eq2":
        return float(row["log_score"]) if row["log_score"] is not None else math.nan
    return context.told_value(accuracy, row["resource_ratio"])


def _promote(bracket: list[Candidate], rung: int, rows: dict[int, TrialRow], context: ObjectiveContext,
             params: SearchParams, first_id: int) -> list[Candidate]:
    """The bracket's best ``1/eta`` at ``rung``, by their expected log(Score) on the top rung
    (``fidelity.RungMap``), as new candidates on the next rung (trial ids from ``first_id``)."""
    at_rung = [rows[c.trial_id] for c in bracket if c.rung == rung]
    maps = rung_maps([row for row in rows.values() if row["iteration"] <= bracket[0].iteration], params.fidelity)
    value = {row["spec_hash"]: maps[rung].expected_log_score(row["proxy_accuracy"], row["resource_ratio"], context.score)
             if row["status"] == "ok" and row["proxy_accuracy"] else math.nan for row in at_rung}
    scored = sum(math.isfinite(v) for v in value.values())
    chosen = promotions(at_rung, params.fidelity.survivors(scored), value)
    by_id = {c.trial_id: c for c in bracket}
    return [dataclasses.replace(by_id[row["trial_id"]], trial_id=first_id + i, rung=rung + 1)
            for i, row in enumerate(chosen)]


def _make_optimizer(params: SearchParams, context: ObjectiveContext, costs: CandidateCosts) -> AskTellOptimizer:
    """The strategy, told what the search knows before training: every strategy skips candidates
    whose known costs break ``search.budget``; ``composite`` also computes Eq. 2 from them, or,
    searching the front (``search.objective: pareto``), it and ``evolution`` get the trade-off."""
    space = context.space
    options: dict[str, Any] = {"canonicalize": lambda x: space.decode(x).network_hash,
                               "max_evaluations": params.n_trials, "dimensions": space.dimensions,
                               "feasible": costs.within_budget if context.budget.limited else None}
    if params.strategy_options is not None:
        options["config"] = params.strategy_options
    if params.objective == "pareto":
        reference = params.pareto.reference(context.budget, context.split.num_classes)
        known = {"batch_size": params.batch_size, "trade_off": accuracy_cost_trade_off(costs, reference)}
    else:
        known = {"batch_size": params.batch_size, "objective": composite_objective(costs, context.score)}
    options.update({name: value for name, value in known.items() if name in OPTIMIZERS[params.strategy].takes})
    return create_optimizer(params.strategy, space.dimension, params.seed, **options)


def _require_feasible(rows: dict[int, TrialRow]) -> None:
    statuses = {row["status"] for row in rows.values()}
    if statuses != {"over_budget"}:
        return
    reasons = sorted({row["reason"] for row in rows.values()})[:3]
    raise InfeasibleBudgetError(
        f"none of the first {len(rows)} candidates met search.budget (e.g. {'; '.join(reasons)}). "
        "Loosen search.budget or narrow search.space towards smaller students."
    )


def _require_a_trained_candidate(rows: dict[int, TrialRow]) -> None:
    """Every candidate so far failed to train: a broken setup (code, data, device), not bad
    luck; stop with their errors rather than spend the rest of the budget failing."""
    statuses = {row["status"] for row in rows.values()}
    if "ok" in statuses or "failed" not in statuses:
        return
    reasons = Counter(row["reason"] for row in rows.values() if row["status"] == "failed").most_common(3)
    raise CandidatesFailedError(
        f"none of the first {len(rows)} candidates could be trained; their errors: "
        + "; ".join(f"{reason} ({count}x)" for reason, count in reasons)
        + ". Each failed trial's traceback is in the log; the rows are kept in the trial log."
    )


def _trace_rows(regions: list[dict[str, Any]], evaluations: int, previous: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Trust-region lengths after a batch, flagging regions that restarted since the last one
    (TuRBO's regions; other strategies describe no lengths and leave the trace empty)."""
    restarts_before = {row["region"]: row["restarts"] for row in previous}
    return [
        {"evaluations": evaluations, "region": region["region_id"], "length": region["length"],
         "restarts": region["restarts"], "restarted": region["restarts"] > restarts_before.get(region["region_id"], 0)}
        for region in regions
        if "length" in region
    ]


def _best_summary(rows: dict[int, TrialRow]) -> str:
    scores = [row["score"] for row in rows.values()
              if row["status"] == "ok" and row["score"] is not None and row["fidelity"] == 1.0]
    return f"best score {min(scores):.4g}" if scores else "no scored candidate yet"

