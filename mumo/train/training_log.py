"""The training log: per-step loss, learning rate and throughput as CSV (appended as the run goes, trimmed back
on resume) and a learning-curve PNG. Not scores: those are `metrics.json` (mumo.eval)."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pandas as pd

from mumo.io import atomic_path

TRAINING_LOG = "training_log.csv"
OLD_TRAINING_LOG = "metrics.csv"  # its name in run folders written before it was renamed


def find_training_log(path: str | Path) -> Path:
    """`path`, a TRAINING_LOG, or where a folder written before the rename has none, its OLD_TRAINING_LOG."""
    path = Path(path)
    old = path.with_name(OLD_TRAINING_LOG)
    return old if path.name == TRAINING_LOG and not path.exists() and old.exists() else path


COLUMNS = [
    "step",
    "epoch",
    "loss",
    "lr",
    "molecules_per_s",
    "tokens_per_s",
    "data_fraction",  # share of the training wall time spent waiting for the DataLoader
    "peak_memory_mb",
    "valid_loss",
    "elapsed_s",
]


class TrainingLog:
    """The TRAINING_LOG file, one row per logged step.

    Resuming at step k starts from `history` (the copy saved with the checkpoint of step k: Snakemake deletes a
    failed job's outputs, this file among them, before it reruns the job) and keeps its rows up to k.
    """

    def __init__(
        self, path: str | Path, history: str | Path | None = None, resume_step: int | None = None
    ) -> None:
        self.path = Path(path)
        kept = []
        if resume_step is not None and history is not None and Path(history).exists():
            kept = [row for row in csv.DictReader(Path(history).open()) if int(row["step"]) <= resume_step]
        with atomic_path(self.path) as tmp, tmp.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, COLUMNS)
            writer.writeheader()
            writer.writerows(kept)
        self._handle = self.path.open("a", newline="")
        self._writer = csv.DictWriter(self._handle, COLUMNS)

    def write(self, row: dict) -> None:
        self._writer.writerow({k: _fmt(row.get(k)) for k in COLUMNS})
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def plot_learning_curve(training_log: str | Path, out_png: str | Path, title: str = "") -> None:
    """Training loss (and validation loss where computed) against step, learning rate on a second axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frame = pd.read_csv(training_log)
    fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    ax.plot(frame["step"], frame["loss"], lw=1, label="train loss")
    valid = frame.dropna(subset=["valid_loss"])
    if len(valid):
        ax.plot(valid["step"], valid["valid_loss"], "o-", ms=3, label="valid loss")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    lr_ax = ax.twinx()
    lr_ax.plot(frame["step"], frame["lr"], color="0.6", lw=0.8, ls="--", label="lr")
    lr_ax.set_ylabel("learning rate")
    handles = ax.get_legend_handles_labels()[0] + lr_ax.get_legend_handles_labels()[0]
    ax.legend(handles=handles, loc="upper right", fontsize=8)
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
