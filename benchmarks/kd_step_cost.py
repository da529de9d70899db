"""Cost of a KD step from cached teacher logits vs a hard-label step.

The soft-label cache exists so that a proxy KD step costs about as much as a hard-label
step; this measures it with the engine's real update (`Trainer.step`) for a typical
embedded-default student, plus KD from an online teacher for scale. Modes are interleaved
in rotating order over several rounds so that load from other processes on the CPU does
not bias one of them. Prints `kd_cached_over_hl_step_ratio=<x>` last (target <= 1.05).

    python benchmarks/kd_step_cost.py [--rounds 10] [--steps 10] [--threads 2]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import numpy as np
import timm
import torch

from trade_pipeline.students.builder import StudentNet
from trade_pipeline.training.engine import Trainer
from trade_pipeline.training.recipe import TrainingRecipe
from trade_pipeline.training.soft_labels import SoftLabels

from common import conf_space

BATCH, CHANNELS, IMG_SIZE, CLASSES, CACHE_SIZE = 64, 1, 28, 10, 3000


def embedded_student(seed: int) -> torch.nn.Module:
    """A student sampled from the embedded-default search space."""
    space = conf_space("base", IMG_SIZE)
    spec = space.sample(np.random.default_rng(seed))
    print(f"student: {spec.block_sequence}")
    return StudentNet(spec, in_chans=CHANNELS, num_classes=CLASSES, img_size=IMG_SIZE)


def make_trainers(student: torch.nn.Module) -> dict[str, Trainer]:
    """One trainer per mode, each on its own copy of the same student."""
    rng = np.random.default_rng(0)
    soft_labels = SoftLabels(
        np.arange(CACHE_SIZE), rng.standard_normal((CACHE_SIZE, CLASSES)).astype(np.float16)
    )
    teacher = timm.create_model("resnet18", in_chans=CHANNELS, num_classes=CLASSES)
    hard = TrainingRecipe(epochs=None, steps=10_000, kd_alpha=0.0)
    distil = TrainingRecipe(epochs=None, steps=10_000, kd_alpha=0.7)
    setups = {
        "hl": (hard, None, None),
        "kd_cached": (distil, soft_labels, None),
        "kd_online": (distil, None, teacher),
    }
    return {
        mode: Trainer(copy.deepcopy(student), recipe, 10_000, 0, "cpu", cache, online)
        for mode, (recipe, cache, online) in setups.items()
    }


def timed_steps(trainer: Trainer, steps: int, generator: torch.Generator) -> list[float]:
    """Seconds of each of ``steps`` updates on fresh random batches."""
    seconds = []
    for _ in range(steps):
        images = torch.randn(BATCH, CHANNELS, IMG_SIZE, IMG_SIZE, generator=generator)
        labels = torch.randint(CLASSES, (BATCH,), generator=generator)
        indices = torch.randperm(CACHE_SIZE, generator=generator)[:BATCH]
        start = time.perf_counter()
        trainer.step(images, labels, indices)
        seconds.append(time.perf_counter() - start)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--steps", type=int, default=10, help="timed steps per mode per round")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps per mode first")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--seed", type=int, default=0, help="which student to sample")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    trainers = make_trainers(embedded_student(args.seed))
    generator = torch.Generator().manual_seed(0)
    for trainer in trainers.values():
        timed_steps(trainer, args.warmup, generator)
    seconds: dict[str, list[float]] = {mode: [] for mode in trainers}
    modes = list(trainers)
    for round_index in range(args.rounds):
        shift = round_index % len(modes)
        for mode in modes[shift:] + modes[:shift]:
            seconds[mode] += timed_steps(trainers[mode], args.steps, generator)
    medians_ms = {mode: 1e3 * statistics.median(values) for mode, values in seconds.items()}
    print(f"threads={args.threads} batch={BATCH} steps_per_mode={args.rounds * args.steps}")
    for mode, median_ms in medians_ms.items():
        print(f"{mode}_step_ms={median_ms:.2f}")
    print(f"kd_online_over_hl_step_ratio={medians_ms['kd_online'] / medians_ms['hl']:.3f}")
    print(f"kd_cached_over_hl_step_ratio={medians_ms['kd_cached'] / medians_ms['hl']:.3f}")


if __name__ == "__main__":
    main()
