"""Seconds per candidate to profile embedded-space students before training.

Every candidate is profiled (params, MACs, batch-1 latency) before it is trained so that
over-budget ones are rejected for free; this checks that the profiler stays well under a
second per candidate on a CPU. The first profile of the process pays one-off library
start-up (oneDNN kernels, allocator), so it is timed apart from the per-candidate figure.
Prints `profiler_seconds_per_candidate=<x>` last (the mean over the candidates).

    python benchmarks/profiler_cost.py [--candidates 20] [--warmup 3] [--repeats 10]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from trade_pipeline.profiling import ProfileSettings, profile_model
from trade_pipeline.students.builder import StudentNet

from common import conf_space

CHANNELS, IMG_SIZE, CLASSES = 1, 28, 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3, help="untimed forwards per candidate")
    parser.add_argument("--repeats", type=int, default=10, help="timed forwards per candidate")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    space = conf_space("base", IMG_SIZE)
    rng = np.random.default_rng(0)
    input_shape = (1, CHANNELS, IMG_SIZE, IMG_SIZE)
    settings = ProfileSettings(warmup=args.warmup, repeats=args.repeats)

    def profile_one() -> float:
        model = StudentNet(space.sample(rng), CHANNELS, CLASSES, IMG_SIZE)
        start = time.perf_counter()
        profile_model(model, input_shape, settings)
        return time.perf_counter() - start

    first = profile_one()
    seconds = [profile_one() for _ in range(args.candidates)]
    print(f"threads={args.threads} warmup={args.warmup} repeats={args.repeats}")
    print(f"first_profile_seconds={first:.3f} (process start-up, excluded)")
    print(f"median_seconds={statistics.median(seconds):.3f} max_seconds={max(seconds):.3f}")
    print(f"profiler_seconds_per_candidate={statistics.mean(seconds):.3f}")


if __name__ == "__main__":
    main()
