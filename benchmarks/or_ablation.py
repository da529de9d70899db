"""Does orthogonal regularisation help the proxy task? (paper Fig. 4, §3.2)

Trains students on the project's proxy task (``search.proxy``: KD from the cached teacher
logits on the proxy share of mini-train, scored on mini-val after every epoch) with Eq. 4's
coefficient ``or_lambda`` swept over ``--lambdas`` (0 = OR off), everything else equal:

  * the project's selected students (``selected_architectures``, the first ``--students``);
  * the project's ``retrain.baselines`` (the ViT one has the Transformer FFNs OR targets).

Fig. 4a is each model's learning curve with OR off and at conf's ``or_lambda``; Fig. 4b the final
top-1 against the coefficient. Rows (model, lambda, seed, epoch, top1) go to
``docs/figures/or_ablation.csv``; the table with the paired comparison of OR at conf's value
against OR off (per model and seed, Wilcoxon signed-rank) to ``.md``, the figure to ``.png``.

    python benchmarks/or_ablation.py --project /tmp/bench --epochs 6 --seeds 0 1
"""
from __future__ import annotations

import argparse
import logging
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

from trade_pipeline.models import build_model, student_model_spec, timm_model_spec  # noqa: E402
from trade_pipeline.search.objective import proxy_train  # noqa: E402
from trade_pipeline.search.session import objective_context  # noqa: E402
from trade_pipeline.students.spec import ArchitectureSpec  # noqa: E402

from proxy_objective import load_project  # noqa: E402
from common import head_commit, machine, paired_test  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def model_specs(inputs, selected: list[dict], students: int) -> dict[str, dict]:
    """The models to train, by name: searched students first, then the baselines."""
    split = inputs.split
    specs = {f"trade_{rank}": student_model_spec(ArchitectureSpec.from_dict(entry["spec"]), split.channels,
                                                 split.num_classes, split.image_size)
             for rank, entry in enumerate(selected[:students], start=1)}
    specs.update({baseline.name: timm_model_spec(baseline.model, split.channels, split.num_classes, split.image_size,
                                                 **baseline.model_kwargs) for baseline in inputs.retrain.baselines})
    return specs


def run(inputs, specs: dict[str, dict], lambdas: list[float], seeds: list[int], epochs: int) -> pd.DataFrame:
    rows = []
    for name, spec in specs.items():
        for or_lambda in lambdas:
            proxy = inputs.search.proxy.model_copy(update={"or_lambda": or_lambda, "epochs": epochs})
            search = inputs.search.model_copy(update={"proxy": proxy})
            context = objective_context(inputs.split, inputs.teacher_profile, inputs.teacher_logits, search)
            for seed in seeds:
                torch.manual_seed(seed)
                result = proxy_train(build_model(spec), context, seed, search.device, eval_every=1)
                rows += [{"model": name, "lambda": or_lambda, "seed": seed, "epoch": row["epoch"], "top1": row["top1"]}
                         for row in result.history]
                print(f"{name} lambda={or_lambda:g} seed={seed}: {result.status} top1={result.top1}", flush=True)
    return pd.DataFrame(rows)


def report(runs: pd.DataFrame, default: float, commit: str) -> str:
    final = runs[runs["epoch"] == runs["epoch"].max()]
    table = final.pivot_table(index="model", columns="lambda", values="top1", aggfunc="mean", sort=False)
    lines = [f"Final mini-val top-1 % after {runs['epoch'].max()} proxy epochs, mean over seeds "
             f"{sorted(int(seed) for seed in runs['seed'].unique())} (commit {commit}, {machine()}):", "",
             "| model | " + " | ".join(f"λ = {value:g}" for value in table.columns) + " |",
             "|---|" + "---|" * len(table.columns)]
    lines += [f"| {model} | " + " | ".join(f"{v:.2f}" for v in values) + " |" for model, values in table.iterrows()]
    pairs = final.pivot_table(index=["model", "seed"], columns="lambda", values="top1")
    difference = (pairs[default] - pairs[0.0]).dropna()
    test = paired_test(-difference)  # higher accuracy wins
    lines += ["", f"OR at λ = {default:g} against OR off, per model and seed: {test['wins']} higher, "
                  f"{test['ties']} equal, {test['losses']} lower (median difference "
                  f"{difference.median():+.2f} points, Wilcoxon p {test['wilcoxon_p']:.3g}, n = {len(difference)})."]
    return "\n".join(lines) + "\n"


def plot(runs: pd.DataFrame, default: float, path: Path) -> None:
    figure, (curves, sweep) = plt.subplots(1, 2, figsize=(11, 4))
    for colour, (model, part) in zip(plt.rcParams["axes.prop_cycle"].by_key()["color"], runs.groupby("model", sort=False)):
        for or_lambda, style in ((0.0, ":"), (default, "-")):
            curve = part[part["lambda"] == or_lambda].groupby("epoch")["top1"].mean()
            curves.plot(curve.index, curve.to_numpy(), style, color=colour, label=f"{model}, λ={or_lambda:g}")
        final = part[part["epoch"] == part["epoch"].max()].groupby("lambda")["top1"].mean()
        positive = final[final.index > 0]
        sweep.plot(positive.index, positive.to_numpy(), "o-", color=colour, label=model)
        sweep.axhline(final.get(0.0, np.nan), color=colour, ls=":", lw=1)
    curves.set(xlabel="proxy epoch", ylabel="mini-val top-1 (%)", title="(a) learning curve, OR off (dotted) / on")
    sweep.set(xscale="log", xlabel="orthogonal coefficient λ", ylabel="final mini-val top-1 (%)",
              title="(b) effect of λ (dotted: OR off)")
    curves.legend(fontsize=7)
    sweep.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, required=True, help="a project where data,teacher,search ran")
    parser.add_argument("--students", type=int, default=2)
    parser.add_argument("--lambdas", type=float, nargs="+", default=[0.0, 1e-5, 1e-4, 1e-3, 1e-2])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--figures", type=Path, default=ROOT / "docs" / "figures")
    parser.add_argument("--report-only", action="store_true", help="remake the table and figure from the CSV")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    inputs = load_project(args.project)
    default = inputs.search.proxy.or_lambda
    if 0.0 not in args.lambdas or default not in args.lambdas:
        raise SystemExit(f"--lambdas must hold 0 (OR off) and the project's or_lambda {default:g}")
    if args.students and not inputs.selected:
        raise SystemExit(f"--project {args.project}: no selected_architectures; run `kedro run --pipelines=search` there "
                         "first, or pass --students 0 for the baselines alone")
    commit = head_commit()
    if args.report_only:
        runs = pd.read_csv(args.figures / "or_ablation.csv")
        commit = re.search(r"commit (\w+)", (args.figures / "or_ablation.md").read_text()).group(1)
    else:
        runs = run(inputs, model_specs(inputs, inputs.selected, args.students), args.lambdas, args.seeds, args.epochs)
        runs.to_csv(args.figures / "or_ablation.csv", index=False)
    text = report(runs, default, commit)
    (args.figures / "or_ablation.md").write_text(text)
    plot(runs, default, args.figures / "or_ablation.png")
    print(text)


if __name__ == "__main__":
    main()
