"""Does the engine, the loader and the latency probe keep up with the GPU?

Three measurements, each in one process so that the comparison is fair:

1. Training: the engine's `Trainer.step` (KD from cached logits, AMP and channels_last on
   CUDA) against a plain hand-written loop with the same model, optimiser and loss (AMP on
   CUDA, no OR), with Eq. 4 on and off; students decoded from conf/paper's space (the cube
   points 0.2, 0.5 and 0.8: 3.3 M, 20.8 M and 50.0 M params at 224x224) plus one at 32x32.
   Modes run interleaved in rotating order; the figure is the median round.
   Prints `engine_over_plain_ratio=<x> or=on|off` (target >= 0.95 with OR on, on a GPU).
2. Loading: images/s of the proxy's training loader on a synthetic ImageFolder of a few
   hundred JPEGs, through timm's transforms in workers and through the decoded cache
   (after its one-off decode, timed apart). Target: the cache at least as fast as the
   fastest student trains.
3. Latency: median and coefficient of variation of 5 `measure_latency` calls per method
   (target: CV <= 5 % over the 5 calls for the default method).

Without CUDA it runs the same code at CPU sizes (the 3.3 M student at 32x32), so the script
stays runnable; those figures say nothing about the GPU targets.

    python benchmarks/gpu_throughput.py [--rounds 5] [--steps 10] [--images 300] [--threads N]
"""
from __future__ import annotations

import argparse
import copy
import logging
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from timm.optim import create_optimizer_v2

from trade_pipeline.data.config import DataParams
from trade_pipeline.data.loaders import LoaderSettings, make_loader
from trade_pipeline.data.sources import load_source
from trade_pipeline.data.split import make_split
from trade_pipeline.profiling import measure_latency
from trade_pipeline.students.builder import StudentNet
from trade_pipeline.training.engine import Trainer
from trade_pipeline.training.losses import kd_loss
from trade_pipeline.training.recipe import TrainingRecipe
from trade_pipeline.training.soft_labels import SoftLabels

from common import conf_space

CLASSES, CACHE_SIZE = 1000, 4096
# (cube point, resolution, batch sizes): three students of the space at ImageNet resolution and one at CIFAR's on a GPU, a small one on a CPU
GPU_CASES = [(0.2, 224, (128, 256)), (0.5, 224, (128, 256)), (0.8, 224, (128, 256)), (0.2, 32, (256,))]
CPU_CASES = [(0.2, 32, (32,))]


def paper_student(point: float, resolution: int) -> StudentNet:
    space = conf_space("paper", resolution)
    return StudentNet(space.decode(np.full(space.dimension, point)), 3, CLASSES, resolution)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def plain_loop(model: torch.nn.Module, device: torch.device, logits_table: torch.Tensor) -> Callable:
    """The hand-written baseline: AMP forward, the same KD loss, AdamW; nothing else."""
    amp = device.type == "cuda"
    optimizer = create_optimizer_v2(model, opt="adamw", lr=1e-3, weight_decay=0.05)
    scaler = torch.amp.GradScaler(device.type, enabled=amp)
    model.train()

    def step(images: torch.Tensor, labels: torch.Tensor, indices: torch.Tensor) -> None:
        with torch.autocast(device.type, enabled=amp):
            loss = kd_loss(model(images), labels, logits_table[indices.to(device)], 0.7, 1.0)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()

    return step


def engine_step(model: torch.nn.Module, device: torch.device, soft_labels: SoftLabels, batch: int,
                or_lambda: float) -> Callable:
    recipe = TrainingRecipe(epochs=None, steps=10**6, batch_size=batch, kd_alpha=0.7, or_lambda=or_lambda)
    trainer = Trainer(model, recipe, 10**6, 0, device, soft_labels=soft_labels, log_every=10**6)
    trainer.model.train()
    return trainer.step


def images_per_second(steps: dict[str, Callable], batch: tuple, device: torch.device, rounds: int,
                      n_steps: int) -> dict[str, float]:
    """Median over rounds of images/s per mode; modes interleaved in rotating order."""
    for step in steps.values():  # warm-up: cuDNN autotuning, allocator, AdamW state
        for _ in range(3):
            step(*batch)
    synchronize(device)
    rates: dict[str, list[float]] = {mode: [] for mode in steps}
    modes = list(steps)
    for round_index in range(rounds):
        shift = round_index % len(modes)
        for mode in modes[shift:] + modes[:shift]:
            start = time.perf_counter()
            for _ in range(n_steps):
                steps[mode](*batch)
            synchronize(device)
            rates[mode].append(len(batch[0]) * n_steps / (time.perf_counter() - start))
    return {mode: statistics.median(values) for mode, values in rates.items()}


def training_throughput(cases: list, device: torch.device, rounds: int, n_steps: int) -> dict[int, float]:
    """Prints the engine/plain ratios per student and batch; returns the fastest engine (OR on)
    images/s per resolution."""
    rng = np.random.default_rng(0)
    soft_labels = SoftLabels(np.arange(CACHE_SIZE), rng.standard_normal((CACHE_SIZE, CLASSES)).astype(np.float16))
    logits_table = torch.as_tensor(soft_labels.lookup(torch.arange(CACHE_SIZE))).to(device)
    memory_format = torch.channels_last if device.type == "cuda" else torch.contiguous_format
    fastest: dict[int, float] = {}
    for point, resolution, batches in cases:
        student = paper_student(point, resolution)
        params = sum(p.numel() for p in student.parameters()) / 1e6
        for batch_size in batches:
            generator = torch.Generator().manual_seed(0)
            images = torch.randn(batch_size, 3, resolution, resolution, generator=generator)
            batch = (images.to(device, memory_format=memory_format),
                     torch.randint(CLASSES, (batch_size,), generator=generator).to(device),
                     torch.randperm(CACHE_SIZE, generator=generator)[:batch_size])
            steps = {
                "plain": plain_loop(copy.deepcopy(student).to(device, memory_format=memory_format), device,
                                    logits_table),
                "engine_or": engine_step(copy.deepcopy(student), device, soft_labels, batch_size, 1e-4),
                "engine_no_or": engine_step(copy.deepcopy(student), device, soft_labels, batch_size, 0.0),
            }
            rates = images_per_second(steps, batch, device, rounds, n_steps)
            fastest[resolution] = max(fastest.get(resolution, 0.0), rates["engine_or"])
            print(f"student={student.spec.block_sequence} params={params:.1f}M res={resolution} batch={batch_size} "
                  + " ".join(f"{mode}_images_per_s={rate:.1f}" for mode, rate in rates.items()))
            for mode, flag in (("engine_or", "on"), ("engine_no_or", "off")):
                print(f"engine_over_plain_ratio={rates[mode] / rates['plain']:.3f} or={flag} "
                      f"params={params:.1f}M res={resolution} batch={batch_size}")
            del steps
            if device.type == "cuda":
                torch.cuda.empty_cache()
    return fastest


def write_jpeg_folder(root: Path, n_images: int, classes: int = 10) -> None:
    """root/{train,val}/<class>/<n>.jpg: smooth gradients plus noise, 320x256, quality 90."""
    from PIL import Image

    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:256, 0:320]
    for pool, count in (("train", n_images), ("val", classes * 2)):
        for index in range(count):
            folder = root / pool / f"n{index % classes:04d}"
            folder.mkdir(parents=True, exist_ok=True)
            base = (x * rng.uniform(0.2, 0.8) + y * rng.uniform(0.2, 0.8))[..., None] + rng.uniform(0, 255, 3)
            pixels = np.clip(base + rng.normal(0, 12, base.shape[:2] + (3,)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(folder / f"{index}.jpg", quality=90)


def loader_throughput(n_images: int, resolution: int, batch: int, device: torch.device, epochs: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        write_jpeg_folder(root / "tree", n_images)
        params = DataParams(dataset="imagefolder", root=str(root / "tree"), n_test=None, n_mini_val=10,
                            image_size=resolution, verify_images="none")
        split = make_split(params, load_source(params))
        settings = LoaderSettings()
        start = time.perf_counter()
        cached = make_loader(split, "mini_train", batch, shuffle=True, device=device,
                             settings=settings.model_copy(update={"decoded_cache": str(root / "decoded")}))
        decode_seconds = time.perf_counter() - start
        folder_loader = make_loader(split, "mini_train", batch, shuffle=True, device=device, settings=settings)
        rates = {}
        for name, loader in (("folder", folder_loader), ("decoded_cache", cached)):
            for _ in loader:  # warm-up epoch: worker start-up, page cache
                pass
            start = time.perf_counter()
            seen = 0
            for _ in range(epochs):
                for images, _labels, _indices in loader:
                    seen += len(images)
            synchronize(device)
            rates[name] = seen / (time.perf_counter() - start)
        del folder_loader  # persistent workers end before the folder is removed
        return {"workers": settings.workers(), "images": len(split.mini_train), "decode_seconds": decode_seconds,
                **rates}


def latency_spread(cases: list, device: torch.device, warmup: int, repeats: int, calls: int = 5) -> None:
    for point, resolution, _ in cases:
        model = paper_student(point, resolution).to(device)
        for method in ("eager", "cuda_graph"):
            readings = [measure_latency(model, (1, 3, resolution, resolution), device, warmup, repeats, method)
                        for _ in range(calls)]
            medians = [reading.median_ms for reading in readings]
            spread = statistics.pstdev(medians) / statistics.fmean(medians)
            print(f"latency method={method} measured_as={readings[-1].method} res={resolution} "
                  f"params={sum(p.numel() for p in model.parameters()) / 1e6:.1f}M "
                  f"median_ms={statistics.median(medians):.3f} cv_over_{calls}_calls={spread:.3f} "
                  f"mean_within_call_cv={statistics.fmean(r.cv for r in readings):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10, help="timed steps per mode per round")
    parser.add_argument("--images", type=int, default=300, help="JPEGs in the synthetic ImageFolder")
    parser.add_argument("--loader-epochs", type=int, default=3)
    parser.add_argument("--latency-warmup", type=int, default=10)
    parser.add_argument("--latency-repeats", type=int, default=50)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    cases = GPU_CASES if device.type == "cuda" else CPU_CASES
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu, {args.threads} threads"
    print(f"device={device} ({name}) torch={torch.__version__}")
    fastest = training_throughput(cases, device, args.rounds, args.steps)
    _, resolution, batches = cases[0]  # the loader feeds the first case's resolution
    loading = loader_throughput(args.images, resolution, max(batches), device, args.loader_epochs)
    print(f"loader images={loading['images']} res={resolution} batch={max(batches)} workers={loading['workers']} "
          f"decode_seconds={loading['decode_seconds']:.2f} (once)")
    for name in ("folder", "decoded_cache"):
        print(f"loader={name} images_per_s={loading[name]:.1f}")
    print(f"cache_loader_over_fastest_student={loading['decoded_cache'] / fastest[resolution]:.2f} "
          f"(fastest engine_or_images_per_s={fastest[resolution]:.1f} at res={resolution})")
    latency_spread(cases, device, args.latency_warmup, args.latency_repeats)


if __name__ == "__main__":
    main()
