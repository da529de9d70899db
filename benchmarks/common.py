"""What several benchmarks need alike: the commit and machine a record names, the paired test
every comparison reports, and the project's search space as a configuration defines it."""

from __future__ import annotations

import argparse
import math
import os
import platform
import subprocess
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]


def head_commit() -> str:
    """The short hash of HEAD: the commit a benchmark's record names."""
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout.strip()


def machine() -> str:
    """The machine a record was made on, as every record names it, with the torch threads used:
    a timing or a measured latency depends on them."""
    import torch

    threads = torch.get_num_threads()
    return f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, {threads} torch thread{'s' * (threads > 1)}"


def paired_test(difference) -> dict[str, float | int]:
    """Seed-by-seed differences (lower is better: a negative difference is a win) as wins, ties,
    losses, their median and a two-sided Wilcoxon signed-rank p-value (NaN when every pair ties)."""
    from scipy.stats import wilcoxon

    difference = np.asarray(difference, dtype=np.float64)
    return {"wins": int((difference < 0).sum()), "ties": int((difference == 0).sum()),
            "losses": int((difference > 0).sum()), "median_difference": float(np.median(difference)),
            "wilcoxon_p": float(wilcoxon(difference).pvalue) if (difference != 0).any() else math.nan}


def conf_space(env: str = "base", resolution: int | None = None):
    """The search space of ``conf/<env>/parameters_search.yml`` (at ``resolution`` when given)."""
    from trade_pipeline.students.space import SearchSpace

    config = yaml.safe_load((ROOT / "conf" / env / "parameters_search.yml").read_text())["search"]["space"]
    space = SearchSpace.from_config(config)
    return space if resolution is None else space.at_resolution(resolution)


def regime_suite_parser(description: str) -> argparse.ArgumentParser:
    """The options of a benchmark that reads the proxy regime suite's cache and runs: the project,
    where the runs and records are, and the proxy task's fidelity (the suite's: 2 epochs, half)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--project", type=Path, required=True, help="a project where data,teacher ran")
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "benchmarks" / "compare_strategies")
    parser.add_argument("--figures", type=Path, default=ROOT / "docs" / "figures")
    add_proxy_options(parser, epochs=2, fraction=0.5)
    return parser


def add_proxy_options(parser: argparse.ArgumentParser, epochs: int, fraction: float) -> None:
    """The proxy task's fidelity: epochs, share of mini-train and warm-up (the project's unless given)."""
    parser.add_argument("--proxy-epochs", type=int, default=epochs)
    parser.add_argument("--proxy-fraction", type=float, default=fraction)
    parser.add_argument("--proxy-warmup", type=float, default=None,
                        help="warm-up epochs of the proxy task (default: the project's search.proxy.warmup_epochs)")
