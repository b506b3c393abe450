"""Fixtures: synthetic molecules (mumo.model.synthetic) and a seeded, single-threaded torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mumo.model.batch import collate
from mumo.model.synthetic import synthetic_record, synthetic_tokens


@pytest.fixture
def make_record():
    return synthetic_record


@pytest.fixture
def make_tokens():
    return synthetic_tokens


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture
def molecules(rng) -> tuple[list[list[int]], list[dict]]:
    """Six molecules of different sizes and token lengths."""
    sizes = [3, 5, 7, 9, 11, 14]
    return [synthetic_tokens(rng, n + 4) for n in sizes], [synthetic_record(rng, n) for n in sizes]


@pytest.fixture
def batch(molecules):
    tokens, records = molecules
    return collate(tokens, records, labels=np.arange(len(records), dtype=np.float32))


@pytest.fixture(autouse=True)
def _seed_and_one_thread():
    """Seeded, and single-threaded: these tiny ops only lose to thread hand-offs on a shared 2-core machine."""
    threads = torch.get_num_threads()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
