"""Score a predictions file: one record per (fold, task, metric), plus a macro average for multi-task data.

A predictions file is long-format CSV with columns mol_id, fold, task, y_true, y_pred; the same format for
every model, so baselines, MuMo and a user's own predictions are scored by one function.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mumo.data.sources import read_csv_checked
from mumo.eval.metrics import get_metric, score

PREDICTION_COLUMNS = ["mol_id", "fold", "task", "y_true", "y_pred"]
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


def long_predictions(
    table: pd.DataFrame, tasks: list[str], rows: dict[str, np.ndarray], predictions: dict[str, np.ndarray]
) -> pd.DataFrame:
    """Long-format predictions from per-fold row indices and [n_rows, T] prediction matrices."""
    parts = []
    for fold, index in rows.items():
        subset = table.iloc[index]
        for t, task in enumerate(tasks):
            parts.append(
                pd.DataFrame(
                    {
                        "mol_id": subset["mol_id"].to_numpy(),
                        "canonical_smiles": subset["canonical_smiles"].to_numpy(),
                        "fold": fold,
                        "task": task,
                        "y_true": subset[task].to_numpy(float),
                        "y_pred": predictions[fold][:, t],
                    }
                )
            )
    return pd.concat(parts, ignore_index=True)
