"""Executors that run a batch of independent jobs (search candidates, retrain runs): in-process,
or on a Dask cluster.

Both call ``fn(item, device)`` and return results in the order of the items, so switching
``search.executor`` or ``retrain.executor`` changes where jobs run, never what they return. ``fn`` is expected
to record its own failures (a failed candidate is a result, not an exception); an exception
that does escape stops the batch and is re-raised.
"""
from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, Union

from pydantic import Field

from trade_pipeline.config import StrictModel

if TYPE_CHECKING:  # distributed takes a while to import; the default executor never needs it
    from distributed import Client

class DaskParams(StrictModel):
    """A Dask cluster: an existing scheduler's ``address``, or a LocalCluster of ``n_workers``
    (default: one per entry of ``devices``, else 2)."""

    address: Union[str, None] = None
    n_workers: Union[int, None] = Field(default=None, ge=1)
    devices: Union[list[str], None] = None
    connect_timeout: float = Field(default=10.0, gt=0)


Item = TypeVar("Item")
Result = TypeVar("Result")
Evaluate = Callable[[Item, str], Result]
OnResult = Callable[[Result], None]


class Executor(ABC):
    """Runs ``fn(item, device)`` over a batch; usable as a context manager that closes it."""

    @abstractmethod
    def map(self, fn: Evaluate, items: Sequence[Item], on_result: OnResult | None = None) -> list[Result]:
        """``[fn(item, device) for item in items]``, in that order, wherever the items ran.

        ``on_result`` is called here, in the calling process, with each result as soon as it
        arrives (in completion order), so a caller can record results durably one by one.
        """

    def close(self) -> None:
        """Release workers; a no-op for executors that hold none."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class LocalExecutor(Executor):
    """Evaluates one candidate after another in this process, on one device."""

    def __init__(self, device: str = "cpu") -> None:
        self.device = device

    def map(self, fn: Evaluate, items: Sequence[Item], on_result: OnResult | None = None) -> list[Result]:
        results = []
        for item in items:
            results.append(fn(item, self.device))
            if on_result is not None:
                on_result(results[-1])
        return results


def assign_devices(workers: Iterable[str], devices: Sequence[str]) -> dict[str, str]:
    """Worker address -> device, round-robin over the workers in address order."""
    return {worker: devices[i % len(devices)] for i, worker in enumerate(sorted(workers))}


def _run_on_worker_device(
    fn: Evaluate, item: Item, device_by_worker: dict[str, str], fallback: str
) -> Result:
    # Runs on a Dask worker: the device is looked up by the worker's own address.
    from distributed import get_worker

    return fn(item, device_by_worker.get(get_worker().address, fallback))


def _connect(address: str, timeout: float) -> Client:
    """A client of the scheduler at ``address`` that has at least one worker, or a clear error."""
    from distributed import Client

    try:
        client = Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as error:
        raise ConnectionError(
            f"no Dask scheduler answered at search.dask.address={address!r} within {timeout:g} s "
            f"({error}); start one (`dask scheduler`) or set search.dask.address to null to "
            "start a local cluster"
        ) from error
    try:
        client.wait_for_workers(1, timeout=timeout)
    except TimeoutError as error:
        client.close()
        raise ConnectionError(
            f"the Dask scheduler at search.dask.address={address!r} has no workers after "
            f"{timeout:g} s; start some with `dask worker {address}`"
        ) from error
    return client


class DaskExecutor(Executor):
    """Evaluates candidates in parallel on a Dask ``distributed`` cluster, one device per worker.

    With ``address`` it joins an existing scheduler; otherwise it starts a local cluster of
    ``n_workers`` single-threaded worker processes (default: one per entry of ``devices``,
    e.g. ``["cuda:0", "cuda:1"]``, else 2 CPU workers). The client is ``self.client``.

    Devices are given to workers round-robin in address order, and each task looks its
    worker's device up when it starts. Tasks are not pinned to workers, so Dask keeps
    balancing candidates of unequal cost, while a single-threaded worker never runs two on its
    device at once. On a dask-cuda cluster each worker sees only its own GPU: pass
    ``devices=["cuda:0"]``.
    """

    def __init__(
        self,
        address: str | None = None,
        n_workers: int | None = None,
        devices: Sequence[str] | None = None,
        connect_timeout: float = 10.0,
    ) -> None:
        from distributed import Client, LocalCluster

        self.devices = list(devices) if devices else ["cpu"]
        self._cluster = None
        if address:
            self.client = _connect(address, connect_timeout)
            return
        self._cluster = LocalCluster(
            n_workers=n_workers or (len(devices) if devices else 2),
            processes=True,
            threads_per_worker=1,
            dashboard_address=None,
        )
        self.client = Client(self._cluster, set_as_default=False)

    def map(self, fn: Evaluate, items: Sequence[Item], on_result: OnResult | None = None) -> list[Result]:
        from distributed import as_completed

        # Assigned per batch so workers that joined since the last batch get a device too.
        device_by_worker = assign_devices(self.client.nthreads(), self.devices)
        futures = [
            self.client.submit(
                _run_on_worker_device, fn, item, device_by_worker, self.devices[0], pure=False
            )
            for item in items
        ]
        try:
            if on_result is not None:
                for future in as_completed(futures, loop=self.client.loop):
                    on_result(future.result())
            return self.client.gather(futures)
        except BaseException:
            self.client.cancel(futures)
            raise

    def close(self) -> None:
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()


EXECUTORS: dict[str, type[Executor]] = {"local": LocalExecutor, "dask": DaskExecutor}


def executor_options(name: str, device: str, dask: DaskParams) -> dict[str, Any]:
    """What ``create_executor`` takes for a pipeline's ``executor``, ``device`` and ``dask`` settings."""
    return {"device": device} if name == "local" else dask.model_dump()


def create_executor(name: str = "local", **options: Any) -> Executor:
    """The executor named by ``search.executor``, built with its options."""
    if name not in EXECUTORS:
        raise ValueError(f"search.executor must be one of {sorted(EXECUTORS)}, got {name!r}")
    executor_class = EXECUTORS[name]
    try:
        inspect.signature(executor_class).bind(**options)
    except TypeError as error:
        allowed = list(inspect.signature(executor_class).parameters)
        raise ValueError(
            f"search.executor={name!r} takes the options {allowed}, got {sorted(options)} ({error})"
        ) from error
    return executor_class(**options)
