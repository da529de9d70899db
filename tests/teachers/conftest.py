"""A tiny real split (scikit-learn's 8x8 digits) and tiny teacher settings shared by the teacher tests."""
from __future__ import annotations

import pytest

from trade_pipeline.data.config import DataParams
from trade_pipeline.data.sources import load_source
from trade_pipeline.data.split import Split, make_split

TINY_CNN = {"model": "resnet10t", "model_kwargs": {"channels": [8, 8, 8, 8], "stem_width": 8}}
TINY_TRAIN = {"epochs": 1, "batch_size": 50, "lr": 0.003, "warmup_epochs": 0.25}


@pytest.fixture(scope="session")
def digits_split() -> Split:
    """100 test, 100 mini-val, 200 mini-train 8x8 grey digits (10 classes)."""
    params = DataParams(dataset="digits", n_test=100, n_mini_val=100, n_mini_train=200)
    return make_split(params, load_source(params))


def teacher_params(teachers: dict, search_teacher: str | None = None, **extra) -> dict:
    """A ``teacher:`` parameter mapping for ``teachers`` (first one searched unless named)."""
    return {"teachers": teachers, "search_teacher": search_teacher or next(iter(teachers)),
            "batch_size": 64, "profile": {"warmup": 0, "repeats": 1}, **extra}
