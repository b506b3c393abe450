"""Score a predictions file (format: mumo.eval.predictions): one record per (fold, task, metric), plus a
macro average for multi-task data. Baselines, MuMo and a user's own predictions are scored by one function.
"""

from __future__ import annotations

import pandas as pd

from mumo.data.sources import read_csv_checked
from mumo.eval.metrics import get_metric, score
from mumo.eval.predictions import PREDICTION_COLUMNS

MACRO = "macro"


def score_predictions(predictions: pd.DataFrame, metrics: list[str]) -> pd.DataFrame:
    """Columns fold, task, metric, value, n (labelled entries scored)."""
    for name in metrics:
        get_metric(name)  # fail early, with the list of valid names
    records = []
    for (fold, task), group in predictions.groupby(["fold", "task"], sort=False):
        labelled = int(group["y_true"].notna().sum())
        for name in metrics:
            value = score(name, group["y_true"].to_numpy(float), group["y_pred"].to_numpy(float))
            records.append({"fold": fold, "task": task, "metric": name, "value": value, "n": labelled})
    scores = pd.DataFrame(records, columns=["fold", "task", "metric", "value", "n"])
    if predictions["task"].nunique() > 1:
        macro = scores.groupby(["fold", "metric"], sort=False).agg(value=("value", "mean"), n=("n", "sum"))
        scores = pd.concat([scores, macro.reset_index().assign(task=MACRO)], ignore_index=True)
    return scores


def evaluate_file(path: str, metrics: list[str]) -> pd.DataFrame:
    """Score a predictions CSV (the `mumo evaluate` entry point)."""
    frame = read_csv_checked(path, PREDICTION_COLUMNS)
    return score_predictions(frame, metrics)
