"""Does a proxy task on a share of mini-train rank architectures as full training does? (paper Table 3)

A fixed set of architectures -- spread along a Pareto front of earlier evaluations plus random
ones from the space -- is trained with KD from the cached teacher logits:

  * at each proxy fraction ``f`` (10-50 % of mini-train, and 100 %) for ``round(E / f)``
    epochs, ``E`` being the project's ``search.proxy.epochs``, so that the number of
    iterations stays about constant (the paper: 90 epochs on 10 %, 9 on 100 %); warm-up
    scales alike; scored on mini-val as the search does;
  * "fully": all of mini-train for ``--full-epochs`` epochs, scored on the test split.

Every architecture starts from the same initial weights (seed ``search.seed``) at every
fidelity. Kendall's tau and Spearman's rho compare each proxy's ranking with the full one,
with percentile intervals from ``--bootstrap`` resamples of the architectures (they reflect
which architectures were picked, not the training noise of each one).

Results are appended per (architecture, fidelity) to ``--out``, so a killed run resumes; the
table (``docs/figures/proxy_fidelity.md``), the accuracies (``.csv``) and a figure (``.png``)
are made from whatever is there.

    nice -n 10 python benchmarks/proxy_fidelity.py --project /tmp/bench_project \\
        --pareto-from data/benchmarks/compare_strategies/proxy-cache/proxy-<fingerprint>.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from scipy.stats import kendalltau, spearmanr  # noqa: E402

from trade_pipeline.data.loaders import make_loader  # noqa: E402
from trade_pipeline.models import build_model, student_model_spec  # noqa: E402
from trade_pipeline.search.pareto import pareto_front  # noqa: E402
from trade_pipeline.search.session import objective_context  # noqa: E402
from trade_pipeline.students.spec import ArchitectureSpec  # noqa: E402
from trade_pipeline.students.space import SearchSpace  # noqa: E402
from trade_pipeline.training.engine import RunOptions, train_model  # noqa: E402
from trade_pipeline.training.recipe import ProxyRecipe  # noqa: E402

from proxy_objective import ProjectInputs, load_project  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FULL = "full"


def pick_architectures(space: SearchSpace, pareto_from: Path | None, n_pareto: int, n_random: int,
                       seed: int) -> list[tuple[str, ArchitectureSpec]]:
    """(origin, spec): ``n_pareto`` spread evenly along the front of ``pareto_from``'s ok rows
    (a search's ``trials.jsonl`` or a benchmark cache), then ``n_random`` uniform ones, all distinct."""
    chosen: dict[str, tuple[str, ArchitectureSpec]] = {}
    if pareto_from is not None and n_pareto:
        rows = pd.read_json(pareto_from, lines=True)
        front = pareto_front(rows)
        for index in np.unique(np.linspace(0, len(front) - 1, min(n_pareto, len(front))).round().astype(int)):
            spec = ArchitectureSpec.from_json(front["spec_json"].iloc[index])
            chosen.setdefault(spec.hash, ("pareto", spec))
    rng = np.random.default_rng(seed)
    target = len(chosen) + n_random
    while len(chosen) < target:
        spec = space.sample(rng)
        chosen.setdefault(spec.hash, ("random", spec))
    return list(chosen.values())


def fidelity_recipe(proxy: ProxyRecipe, fraction: float | None, full_epochs: int) -> ProxyRecipe:
    """The proxy recipe at ``fraction`` of mini-train with iterations held constant, or the full run."""
    if fraction is None:
        epochs, warmup = full_epochs, proxy.warmup_epochs * full_epochs / proxy.epochs
        fraction = 1.0
    else:
        epochs, warmup = max(1, round(proxy.epochs / fraction)), proxy.warmup_epochs / fraction
    return ProxyRecipe.model_validate({**proxy.model_dump(), "epochs": epochs, "warmup_epochs": warmup,
                                      "data_fraction": fraction})


def train_at(spec: ArchitectureSpec, inputs: ProjectInputs, fraction: float | None, full_epochs: int) -> dict:
    """Top-1 of ``spec`` after training at one fidelity (None: full, scored on test)."""
    recipe = fidelity_recipe(inputs.search.proxy, fraction, full_epochs)
    params = inputs.search.model_copy(update={"proxy": recipe})
    context = objective_context(inputs.split, inputs.teacher_profile, inputs.teacher_logits, params)
    split = inputs.split
    torch.manual_seed(params.seed)
    model = build_model(student_model_spec(spec, split.channels, split.num_classes, split.image_size))
    train = make_loader(split, "mini_train", recipe.batch_size, shuffle=True, seed=params.seed,
                        indices=context.proxy_indices, settings=recipe.loader)
    scored_on = "test" if fraction is None else "mini_val"
    evaluate = make_loader(split, scored_on, max(recipe.batch_size, 256), settings=recipe.loader)
    start = time.perf_counter()
    result = train_model(model, train, evaluate, recipe.model_copy(update={"seed": params.seed}), params.device,
                         soft_labels=context.soft_labels, options=RunOptions(progress=False, eval_every=0))
    return {"fidelity": FULL if fraction is None else f"{fraction:g}", "epochs": recipe.epochs,
            "images": len(context.proxy_indices), "steps": result.steps, "scored_on": scored_on,
            "status": result.status, "top1": result.top1, "seconds": time.perf_counter() - start}


def rank_agreement(table: pd.DataFrame, bootstrap: int, seed: int) -> pd.DataFrame:
    """Per proxy fidelity: Kendall's tau and Spearman's rho against the full ranking, with 95 %
    percentile intervals over resamples of the architectures."""
    rng = np.random.default_rng(seed)
    full = table[FULL].to_numpy()
    rows = []
    for column in [c for c in table.columns if c != FULL]:
        proxy = table[column].to_numpy()
        keep = np.isfinite(proxy) & np.isfinite(full)
        x, y = proxy[keep], full[keep]
        draws = rng.integers(0, len(x), size=(bootstrap, len(x)))
        taus = np.array([kendalltau(x[d], y[d]).statistic for d in draws])
        rhos = np.array([spearmanr(x[d], y[d]).statistic for d in draws])
        rows.append({"proxy": column, "n": int(keep.sum()), "kendall_tau": kendalltau(x, y).statistic,
                     "tau_low": np.nanpercentile(taus, 2.5), "tau_high": np.nanpercentile(taus, 97.5),
                     "spearman_rho": spearmanr(x, y).statistic,
                     "rho_low": np.nanpercentile(rhos, 2.5), "rho_high": np.nanpercentile(rhos, 97.5)})
    return pd.DataFrame(rows)


def report(results: pd.DataFrame, figures: Path, bootstrap: int, seed: int) -> str:
    ok = results[results["status"] == "ok"]
    table = ok.pivot_table(index=["spec_hash", "origin", "block_sequence"], columns="fidelity", values="top1")
    proxies = sorted([c for c in table.columns if c != FULL], key=float)
    table = table[[*proxies, FULL]] if FULL in table.columns else table[proxies]
    figures.mkdir(parents=True, exist_ok=True)
    table.sort_values(FULL if FULL in table else proxies[-1]).round(2).to_csv(figures / "proxy_fidelity.csv")
    steps = ok.groupby("fidelity")["steps"].median()
    lines = ["| proxy (share of mini-train, epochs) | steps | Kendall tau [95 % CI] | Spearman rho [95 % CI] |",
             "|---|---|---|---|"]
    if FULL in table and table[FULL].notna().sum() >= 3:
        complete = table.dropna()
        agreement = rank_agreement(complete, bootstrap, seed)
        epochs = ok.groupby("fidelity")["epochs"].first()
        for _, row in agreement.iterrows():
            lines.append(f"| {float(row['proxy']):.0%} ({epochs[row['proxy']]} epochs) | {int(steps[row['proxy']])} | "
                         f"{row['kendall_tau']:.2f} [{row['tau_low']:.2f}, {row['tau_high']:.2f}] | "
                         f"{row['spearman_rho']:.2f} [{row['rho_low']:.2f}, {row['rho_high']:.2f}] |")
        lines.append(f"\n{len(complete)} architectures; full: {epochs[FULL]} epochs on all of mini-train "
                     f"({int(steps[FULL])} steps), scored on test.")
    (figures / "proxy_fidelity.md").write_text("\n".join(lines) + "\n")
    plot(table, figures / "proxy_fidelity.png")
    return "\n".join(lines)


def plot(table: pd.DataFrame, path: Path) -> None:
    """One line per architecture: its top-1 at each fidelity."""
    figure, axes = plt.subplots(figsize=(7.5, 4.5))
    labels = [f"{float(c):.0%}" if c != FULL else "full (test)" for c in table.columns]
    for (_, origin, _), values in table.iterrows():
        axes.plot(range(len(labels)), values.to_numpy(), marker="o", ms=3, lw=1,
                  color="tab:red" if origin == "pareto" else "tab:gray", alpha=0.8)
    axes.set_xticks(range(len(labels)), labels)
    axes.set_xlabel("proxy: share of mini-train (iterations held constant)")
    axes.set_ylabel("top-1 % (mini-val; full: test)")
    axes.set_title("Proxy fidelity: red = from the Pareto front, grey = random")
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, default=ROOT, help="a project where data,teacher ran")
    parser.add_argument("--pareto-from", type=Path, default=None,
                        help="JSON lines of trial rows (a search's trials.jsonl or compare_strategies' proxy cache)")
    parser.add_argument("--pareto", type=int, default=6, help="architectures from the Pareto front")
    parser.add_argument("--random", type=int, default=6, help="random architectures (at least 12 in all)")
    parser.add_argument("--fractions", nargs="+", type=float, default=[0.1, 0.2, 0.3, 0.4, 0.5, 1.0])
    parser.add_argument("--full-epochs", type=int, default=15)
    parser.add_argument("--bootstrap", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0, help="random architectures and bootstrap")
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "benchmarks" / "proxy_fidelity")
    parser.add_argument("--figures", type=Path, default=ROOT / "docs" / "figures")
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    inputs = load_project(args.project)
    space = SearchSpace.from_config(inputs.search.space).at_resolution(inputs.split.image_size)
    out = args.out / f"{inputs.teacher_logits['teacher']}-{inputs.split.fingerprint[:8]}"
    results_path = out / "results.jsonl"
    if not args.report_only:
        architectures = pick_architectures(space, args.pareto_from, args.pareto, args.random, args.seed)
        out.mkdir(parents=True, exist_ok=True)
        finished = {(row["spec_hash"], row["fidelity"]) for row in read_rows(results_path)}
        for origin, spec in architectures:
            for fraction in [*args.fractions, None]:
                fidelity = FULL if fraction is None else f"{fraction:g}"
                if (spec.hash, fidelity) in finished:
                    continue
                row = {"spec_hash": spec.hash, "origin": origin, "block_sequence": spec.block_sequence,
                       "full_epochs": args.full_epochs, **train_at(spec, inputs, fraction, args.full_epochs)}
                with results_path.open("a") as handle:
                    handle.write(json.dumps(row) + "\n")
                    handle.flush()
                    os.fsync(handle.fileno())
                print(json.dumps(row), flush=True)
    print(report(pd.DataFrame(read_rows(results_path)), args.figures, args.bootstrap, args.seed))


def read_rows(path: Path) -> list[dict]:
    """The result rows appended so far (none if the file does not exist yet)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


if __name__ == "__main__":
    main()
