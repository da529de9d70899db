"""Shared fixtures: tiny on-disk datasets the tests create themselves (nothing is downloaded)."""
from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "1")
torch.set_num_threads(1)  # the CI machine has 2 cores; keep tests from oversubscribing them


@pytest.fixture
def cifar_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A 10-class CIFAR-10 tree in torchvision's on-disk format: 60 train + 20 test images.

    The files cannot match torchvision's published md5 sums, so only those checks are bypassed;
    reading goes through torchvision's real code.
    """
    from torchvision.datasets import CIFAR10

    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)

    def batch(n: int, offset: int) -> dict:
        labels = [(i + offset) % 10 for i in range(n)]
        return {"data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8), "labels": labels}

    for index in range(1, 6):
        with open(folder / f"data_batch_{index}", "wb") as handle:
            pickle.dump(batch(12, index), handle)
    with open(folder / "test_batch", "wb") as handle:
        pickle.dump(batch(20, 0), handle)
    with open(folder / "batches.meta", "wb") as handle:
        pickle.dump({"label_names": [f"class{k}" for k in range(10)]}, handle)
    monkeypatch.setattr(CIFAR10, "_check_integrity", lambda self: True)
    monkeypatch.setattr("torchvision.datasets.cifar.check_integrity", lambda *args, **kwargs: True)
    return tmp_path


def write_image_folder(root: Path, classes: int = 3, train_per_class: int = 8, val_per_class: int = 2) -> Path:
    """An ImageNet-layout tree of small random PNGs: root/{train,val}/<class>/<n>.png."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for pool, count in (("train", train_per_class), ("val", val_per_class)):
        for label in range(classes):
            folder = root / pool / f"n{label:04d}"
            folder.mkdir(parents=True)
            for index in range(count):
                pixels = rng.integers(0, 256, size=(12, 12, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(folder / f"{index}.png")
    return root


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    return write_image_folder(tmp_path / "tree")


@pytest.fixture
def make_image_folder():
    """The tree writer itself, for tests that need a variant (more classes, a broken file)."""
    return write_image_folder


@pytest.fixture
def kill_at_first_checkpoint():
    """``kill(script, checkpoint_dir)``: runs ``script`` in a child Python and SIGKILLs it as soon
    as a ``*.safetensors`` checkpoint appears in ``checkpoint_dir`` (or after 240 s)."""
    def kill(script: str, checkpoint_dir: Path) -> None:
        child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 240
        while not any(checkpoint_dir.glob("*.safetensors")) and child.poll() is None and time.time() < deadline:
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    return kill
