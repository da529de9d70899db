"""Benchmark scripts import their sibling modules, so a test imports them with benchmarks/ on the path."""
from __future__ import annotations

import importlib
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture
def benchmark_module(monkeypatch: pytest.MonkeyPatch):
    """``name -> module`` of ``benchmarks/<name>.py``."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    return importlib.import_module
