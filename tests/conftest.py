"""Shared fixtures (helpers live in tests/helpers.py, importable because pytest puts tests/ on sys.path)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import LoopbackServer


@pytest.fixture
def loopback(tmp_path: Path) -> Iterator[LoopbackServer]:
    root = tmp_path / "served"
    root.mkdir()
    with LoopbackServer(root) as server:
        yield server
