"""One retrain job on several devices with PyTorch DDP, its processes spawned by the node.

Every process builds the same model (same seed), DDP averages the gradients, and each process
trains on its share of every global batch, so an update sees the whole batch as in a single
process. On CUDA BatchNorm becomes SyncBatchNorm; on CPU (gloo, for tests) each process keeps
its own batch statistics. Rank 0 alone writes the checkpoint and the result.
"""
from __future__ import annotations

import dataclasses
import json
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from trade_pipeline.serialization import save_json
from trade_pipeline.training.engine import TrainResult


def wrap_model(model: nn.Module, device: str) -> nn.Module:
    """``model`` on ``device`` inside DDP (with SyncBatchNorm on CUDA)."""
    device = torch.device(device)
    model = model.to(device)
    if device.type == "cuda":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        return DistributedDataParallel(model, device_ids=[device.index])
    return DistributedDataParallel(model)


TrainJob = Callable[..., TrainResult]
"""``train(job, device, context, rank=, world_size=)``, a module-level function (it is pickled to
each spawned process): ``jobs.train_job``."""


def train_distributed(train: TrainJob, job: Any, context: Any) -> TrainResult:
    """Spawns ``context.params.ddp.nproc`` processes running ``train`` on ``job`` and returns rank
    0's result."""
    with tempfile.TemporaryDirectory() as scratch:
        result_path = Path(scratch) / "result.json"
        torch.multiprocessing.spawn(_worker, args=(train, job, context, _free_port(), str(result_path)),
                                    nprocs=context.params.ddp.nproc, join=True)
        return TrainResult(**json.loads(result_path.read_text()))


def _worker(rank: int, train: TrainJob, job: Any, context: Any, port: int, result_path: str) -> None:
    ddp = context.params.ddp
    device = ddp.device_of(rank, context.params.device)
    on_cuda = torch.device(device).type == "cuda"
    backend = ddp.backend or ("nccl" if on_cuda else "gloo")
    if on_cuda:
        torch.cuda.set_device(torch.device(device))
    dist.init_process_group(backend, init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=ddp.nproc)
    try:
        result = train(job, device, context, rank=rank, world_size=ddp.nproc)
        if rank == 0:
            save_json(result_path, dataclasses.asdict(result))
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
