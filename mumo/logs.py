"""Logging for pipeline steps: everything a step says (and any traceback) lands in its rule's log file."""

from __future__ import annotations

import logging
import sys
from pathlib import Path


def log_to_file(path: str | Path, level: int = logging.INFO) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    stream = open(path, "a", buffering=1)  # noqa: SIM115 - lives as long as the step's process
    sys.stderr = stream
    logging.basicConfig(
        level=level, stream=stream, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
    )
