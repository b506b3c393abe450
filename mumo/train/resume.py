"""Resume checkpoints: DeepSpeed's own files per tag, committed by an atomically written pointer.

Layout of `out_dir/checkpoints/`::

    latest.json        {"tag": "step000120", "step": 120, "run_key": ...}, written last, atomically
    step000100/        engine.save_checkpoint(..., save_latest=False): model, optimizer (ZeRO partitions),
    step000120/        LR scheduler, our client state (loop position, RNG states of every rank, selection)
                       and training_log.csv, the run's training log up to this step (metrics.csv before)

Why not DeepSpeed's `latest` file: it is written in place (`open(..., "w")`), so a kill at the wrong moment
leaves it empty, and with a reused tag the tag's files are overwritten in place. Here every save goes to a new
tag directory, and only after every rank has finished (DeepSpeed's closing barrier) does rank 0 move
`latest.json` to it with an atomic rename; a kill at any moment leaves the previous pointer and its tag
intact. Older tags are deleted only after the pointer has moved.

These files are DeepSpeed's format (torch.save, i.e. pickle, loaded by DeepSpeed with weights_only=False),
so they are for resuming our own runs only. Weights that leave a run go through `save_pretrained`
(safetensors).
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mumo.io import write_text_atomic

POINTER = "latest.json"
KEEP = 2  # tags kept: the latest and the one before it


def tag_for(step: int) -> str:
    return f"step{step:08d}"


def read_pointer(checkpoint_dir: str | Path) -> dict[str, Any] | None:
    """The committed checkpoint (tag, step, run_key), or None when there is none."""
    path = Path(checkpoint_dir) / POINTER
    return json.loads(path.read_text()) if path.exists() else None


def commit(checkpoint_dir: str | Path, tag: str, step: int, run_key: str) -> None:
    """Point at `tag` (rank 0, after every rank saved it), then delete all but the newest KEEP tags."""
    checkpoint_dir = Path(checkpoint_dir)
    write_text_atomic(
        checkpoint_dir / POINTER, json.dumps({"tag": tag, "step": step, "run_key": run_key}) + "\n"
    )
    tags = sorted(p.name for p in checkpoint_dir.glob("step*") if p.is_dir() and p.name <= tag)
    for old in tags[:-KEEP]:
        shutil.rmtree(checkpoint_dir / old, ignore_errors=True)


def discard_uncommitted(checkpoint_dir: str | Path) -> None:
    """Remove tag directories newer than the pointer: leftovers of a save that was killed (rank 0, at start)."""
    checkpoint_dir = Path(checkpoint_dir)
    pointer = read_pointer(checkpoint_dir)
    committed = pointer["tag"] if pointer else ""
    for path in checkpoint_dir.glob("step*"):
        if path.is_dir() and path.name > committed:
            shutil.rmtree(path, ignore_errors=True)


def rng_state() -> dict[str, Any]:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
