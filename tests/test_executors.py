import socket
import sys
from pathlib import Path

import numpy as np
import pytest

from distributed import get_worker

from trade_pipeline.executors import (
    DaskExecutor,
    LocalExecutor,
    assign_devices,
    create_executor,
)

ROOT = Path(__file__).resolve().parents[1]


def noisy_square(item, device):
    return {"item": item, "value": item**2 + np.random.default_rng(item).normal()}


def worker_and_device(item, device):
    return get_worker().address, device


def fail_on_three(item, device):
    if item == 3:
        raise RuntimeError("candidate 3 escaped")
    return item


@pytest.fixture(scope="module")
def dask_executor():
    """Workers are spawned processes that start from this process's ``sys.path``: put the
    project root on it so they can import this module (``python -m pytest`` adds the working
    directory, the ``pytest`` script does not, and a task that cannot be unpickled never ends)."""
    sys.path.insert(0, str(ROOT))
    try:
        with DaskExecutor(devices=["dev0", "dev1"]) as executor:
            yield executor
    finally:
        sys.path.remove(str(ROOT))


def test_local_executor_loops_in_order_on_its_device():
    assert LocalExecutor("cuda:0").map(lambda item, device: (item, device), [2, 1]) == [
        (2, "cuda:0"),
        (1, "cuda:0"),
    ]


def test_dask_gives_the_same_results_as_local_in_order(dask_executor):
    items = list(range(6))
    with create_executor("local") as local:
        expected = local.map(noisy_square, items)
    assert dask_executor.map(noisy_square, items) == expected


@pytest.mark.parametrize("name", ["local", "dask"])
def test_each_result_reaches_on_result_once_as_it_arrives(name, dask_executor):
    received = []
    executor = dask_executor if name == "dask" else LocalExecutor()
    results = executor.map(noisy_square, [3, 1, 2], on_result=received.append)
    assert sorted(received, key=lambda row: row["item"]) == sorted(results, key=lambda row: row["item"])
    assert [row["item"] for row in results] == [3, 1, 2]  # the return value keeps item order


def test_devices_go_round_robin_over_workers_in_address_order():
    workers = ["tcp://b:2", "tcp://a:1", "tcp://c:3"]
    assert assign_devices(workers, ["cuda:0", "cuda:1"]) == {
        "tcp://a:1": "cuda:0",
        "tcp://b:2": "cuda:1",
        "tcp://c:3": "cuda:0",
    }


def test_dask_starts_one_worker_per_device_and_each_keeps_its_own(dask_executor):
    pairs = set(dask_executor.map(worker_and_device, list(range(8))))
    workers = [worker for worker, _ in pairs]
    devices = [device for _, device in pairs]
    assert len(set(workers)) == len(workers) and len(set(devices)) == len(devices)
    assert set(devices) <= {"dev0", "dev1"}
    assert len(dask_executor.client.nthreads()) == 2


def test_dask_reraises_an_escaped_failure(dask_executor):
    with pytest.raises(RuntimeError, match="candidate 3"):
        dask_executor.map(fail_on_three, [1, 2, 3])


def test_unreachable_scheduler_names_the_setting():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ConnectionError, match="search.dask.address"):
        DaskExecutor(address=f"tcp://127.0.0.1:{port}", connect_timeout=2)


def test_unknown_executor_name_lists_the_allowed_values():
    with pytest.raises(ValueError, match=r"search.executor must be one of \['dask', 'local'\]"):
        create_executor("ray")


def test_unknown_executor_option_is_named():
    with pytest.raises(ValueError, match="address"):
        create_executor("local", address="tcp://scheduler:8786")
