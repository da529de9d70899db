"""How well does the composite strategy's accuracy model predict students it has not seen?

Replays the ``composite`` runs of ``compare_strategies.py proxy --regimes`` (their students, in
the order evaluated, read from the proxy cache: no training). After ``--after`` evaluations of a
run it fits the strategy's own outcome model (``gp.fit_outcome_gp`` on the logit of the proxy
accuracies, with the search's ``composite`` settings) and predicts two held-out sets:

* ``uniform``: the regime suite's uniform students (``--uniform``, drawn as random search draws
  them) that the run had not evaluated yet: the whole space;
* ``next``: the next ``--next`` students the run evaluated: what the search picked, where the
  optimiser's curse acts.

Per set: Spearman between predicted and measured accuracy; the logit RMSE against a constant
predictor's (the training mean; below 1 beats it); the coverage of the model's 90 % predictive
interval (observation noise included); the mean predicted probability of meeting the regime's
target against the share that met it. Writes ``docs/figures/model_calibration.csv`` (one row per
regime, seed, checkpoint and set) and ``model_calibration.md`` (medians over seeds).

``--cost-inputs`` gives the model each student's log cost ratios against the teacher (params,
MACs, latency: known before training) as three more continuous inputs, scaled so that the
uniform students span [0.1, 0.9] (records ``model_calibration_cost_inputs``): does knowing what a student costs
make the model less optimistic about the cheap students the search picks?

    python benchmarks/model_calibration.py --project /tmp/bench --seeds 0-9 --proxy-epochs 2 --proxy-fraction 0.5
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr

from common import head_commit, machine, regime_suite_parser
from compare_strategies import parse_seeds
from proxy_objective import proxy_objective_of, uniform_rows
from trade_pipeline.optim.base import Dimension
from trade_pipeline.optim.gp import fit_outcome_gp
from trade_pipeline.optim.logit import to_logit
from trade_pipeline.optim.mixed import MixedSpace

ROOT = Path(__file__).resolve().parents[1]
Z90 = 1.6448536269514722  # the 95th percentile of the standard normal: a central 90 % interval


def held_out_scores(model, points: np.ndarray, accuracy: np.ndarray, target: float, constant: float
                    ) -> dict[str, float]:
    """What the model gets right about ``points`` (``n x d``) whose proxy ``accuracy`` it never saw."""
    with torch.no_grad():
        posterior = model.posterior(torch.from_numpy(points), observation_noise=True)
        mean = posterior.mean.reshape(-1).numpy()
        std = posterior.variance.clamp_min(0).sqrt().reshape(-1).numpy()
    measured = to_logit(accuracy)
    edge = float(to_logit(target))
    p_feasible = torch.special.ndtr(torch.from_numpy((mean - edge) / np.maximum(std, 1e-9))).numpy()
    return {"n": len(points), "spearman": float(spearmanr(mean, measured)[0]),
            "rmse_ratio": float(np.sqrt(np.mean((mean - measured) ** 2)) / np.sqrt(np.mean((constant - measured) ** 2))),
            "coverage90": float(np.mean(np.abs(measured - mean) <= Z90 * std)),
            "mean_error": float(np.mean(measured - mean)),
            "mean_p_feasible": float(p_feasible.mean()), "met_share": float(np.mean(accuracy >= target))}


def replay(run: pd.DataFrame, rows: dict, uniform: list[dict], space: MixedSpace, target: float, after: int,
           next_n: int, iterations: int | None, seed: int,
           features: Callable[[list[dict]], np.ndarray] | None = None) -> list[dict]:
    """Both held-out sets' scores for the model fitted on the first ``after`` evaluations of ``run``
    (``features``: more inputs of each row, after its encoding; ``space`` then covers them too)."""
    def trained(keys) -> tuple[np.ndarray, np.ndarray]:
        kept = [rows[key] for key in keys if key in rows and rows[key]["proxy_accuracy"] is not None]
        points = np.array([row["encoding"] for row in kept], dtype=np.float64).reshape(len(kept), -1)
        if features is not None:
            points = np.hstack([points, features(kept).reshape(len(kept), -1)])
        return space.canonical(torch.from_numpy(points)).numpy(), np.array([row["proxy_accuracy"] for row in kept])

    seen = list(run["key"][:after])
    train_X, train_y = trained(seen)
    model = fit_outcome_gp(torch.from_numpy(train_X), torch.from_numpy(to_logit(train_y)).unsqueeze(-1), space,
                           iterations, seed)
    constant = float(to_logit(train_y).mean())
    sets = {"uniform": [row["spec_hash"] for row in uniform if row["spec_hash"] not in set(seen)],
            "next": list(run["key"][after:after + next_n])}
    results = []
    for name, keys in sets.items():
        points, accuracy = trained(keys)
        if len(points) >= 3:
            results.append({"held_out": name, "train": len(train_y),
                            **held_out_scores(model, points, accuracy, target, constant)})
    return results


def cost_features(uniform: list[dict], teacher_costs: dict) -> Callable[[list[dict]], np.ndarray]:
    """Rows -> ``n x 3`` log ratios of params, MACs and latency to the teacher's, scaled so that
    the uniform students span [0.1, 0.9] of the unit interval."""
    names = ("params", "macs", "latency_ms")

    def log_ratios(rows: list[dict]) -> np.ndarray:
        return np.log([[row[name] / teacher_costs[name] for name in names] for row in rows]).reshape(len(rows), 3)

    span = log_ratios(uniform)
    low, width = span.min(axis=0), np.ptp(span, axis=0) / 0.8
    return lambda rows: (log_ratios(rows) - low) / width + 0.1


def main() -> None:
    parser = regime_suite_parser(__doc__.splitlines()[0])
    parser.add_argument("--regimes", nargs="+", default=["binding", "strict", "needle", "budget"])
    parser.add_argument("--seeds", nargs="+", default=["0-9"])
    parser.add_argument("--after", nargs="+", type=int, default=[16, 32, 42])
    parser.add_argument("--next", type=int, default=8, dest="next_n")
    parser.add_argument("--budget", type=int, default=50, help="evaluations of the runs replayed")
    parser.add_argument("--uniform", type=int, default=200)
    parser.add_argument("--cost-inputs", action="store_true", help="the model also sees each student's log cost ratios")
    args = parser.parse_args()
    torch.set_num_threads(1)
    objective, fingerprint, search = proxy_objective_of(args)
    uniform = [row for row in uniform_rows(objective, args.uniform) if row["proxy_accuracy"] is not None]
    regimes = json.loads((args.figures / "compare_proxy_regimes.json").read_text())
    dimensions = tuple(objective.dimensions) + (Dimension(),) * (3 * args.cost_inputs)
    space = MixedSpace.from_dimensions(dimensions)
    features = cost_features(uniform, objective.context.teacher_costs) if args.cost_inputs else None
    name = "model_calibration" + "_cost_inputs" * args.cost_inputs
    records = []
    for regime in args.regimes:
        for seed in parse_seeds(args.seeds):
            run = pd.read_csv(args.out / f"proxy-{fingerprint}-{regime}_{args.budget}" / f"composite-seed{seed}.csv",
                              dtype={"key": str})
            for after in args.after:
                for result in replay(run, objective.rows, uniform, space, regimes[regime]["target"], after,
                                     args.next_n, search.composite.gp_fit_iterations, seed, features):
                    records.append({"regime": regime, "seed": seed, "after": after, **result})
    table = pd.DataFrame(records)
    table.to_csv(args.figures / f"{name}.csv", index=False)
    columns = ["spearman", "rmse_ratio", "coverage90", "mean_error", "mean_p_feasible", "met_share"]
    summary = table.groupby(["held_out", "regime", "after"], sort=False)[["train", *columns]].median().reset_index()
    inputs = "the encoding" + " and log cost ratios" * args.cost_inputs
    lines = [f"Medians over seeds {' '.join(args.seeds)}; proxy cache {fingerprint}; model inputs: {inputs}; "
             f"commit {head_commit()}; {machine()}.", "",
             "| held out | regime | after | trained on | Spearman | logit RMSE / constant's | 90 % coverage | "
             "mean logit error | mean P(meets target) | share met |", "|---|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r.held_out} | {r.regime} | {r.after} | {r.train:.0f} | {r.spearman:.2f} | {r.rmse_ratio:.2f} | "
              f"{r.coverage90:.2f} | {r.mean_error:+.2f} | {r.mean_p_feasible:.2f} | {r.met_share:.2f} |"
              for r in summary.itertuples()]
    (args.figures / f"{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
