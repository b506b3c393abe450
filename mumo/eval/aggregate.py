"""results/table.csv: mean, sample standard deviation (ddof=1) and count over seeds, one row per
(benchmark, dataset, task, split, model, metric), test fold only. Seeds are independent runs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

TABLE_KEYS = ["benchmark", "dataset", "task", "split", "model", "metric"]
TABLE_COLUMNS = [*TABLE_KEYS, "mean", "std", "n_seeds", "n_train", "n_valid", "n_test"]


def run_scores(paths: list[str | Path]) -> pd.DataFrame:
    """All per-run metric files as one long frame (one row per run × fold × task × metric)."""
    frames = []
    for path in paths:
        run = json.loads(Path(path).read_text())
        scores = pd.DataFrame(run["scores"])
        for key in ("benchmark", "dataset", "split", "seed", "model", "n_train", "n_valid", "n_test"):
            scores[key] = run[key]
        frames.append(scores)
    if not frames:
        raise ValueError("no run metrics to aggregate")
    return pd.concat(frames, ignore_index=True)


def _sample_std(values: pd.Series) -> float:
    finite = values.dropna()
    return float(finite.std(ddof=1)) if len(finite) > 1 else float("nan")


def aggregate(scores: pd.DataFrame) -> pd.DataFrame:
    test = scores[scores["fold"] == "test"]
    table = test.groupby(TABLE_KEYS, sort=True).agg(
        mean=("value", "mean"),
        std=("value", _sample_std),
        n_seeds=("value", "count"),
        n_train=("n_train", "mean"),
        n_valid=("n_valid", "mean"),
        n_test=("n_test", "mean"),
    )
    table = table.reset_index()
    for column in ("n_train", "n_valid", "n_test"):
        table[column] = np.round(table[column]).astype(int)
    return table[TABLE_COLUMNS]
