"""results/table.csv: mean, sample standard deviation (ddof=1) and count over seeds, one row per
(benchmark, dataset, task, split, model, metric), test fold only, with the published numbers beside ours.
Seeds are independent runs (a fresh split, where the split is seeded, and a fresh model seed)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from mumo.eval.published import PUBLISHED_COLUMNS, compare, load_published

TABLE_KEYS = ["benchmark", "dataset", "task", "split", "model", "metric"]
SUMMARY_COLUMNS = [*TABLE_KEYS, "mean", "std", "n_seeds", "n_train", "n_valid", "n_test"]
TABLE_COLUMNS = [*SUMMARY_COLUMNS, *PUBLISHED_COLUMNS]


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


def aggregate(scores: pd.DataFrame, published: pd.DataFrame | None = None) -> pd.DataFrame:
    """The table: per-seed test scores summarised, then joined with `published` (default: the packaged file)."""
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
    published = load_published() if published is None else published
    return compare(table[SUMMARY_COLUMNS], published)[TABLE_COLUMNS]


def headline_rows(table: pd.DataFrame, headline: dict[str, str]) -> pd.DataFrame:
    """Per dataset, the rows of its headline metric on its summary task (macro for multi-task data): of the
    table, or of the per-seed scores (`run_scores`) that the paired comparisons read."""
    rows = table[table["metric"] == table["dataset"].map(headline)]
    multi = rows.groupby("dataset")["task"].transform(lambda t: "macro" in set(t))
    return rows[~multi | (rows["task"] == "macro")]
