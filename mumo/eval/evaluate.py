"""Score a predictions file (format: mumo.eval.predictions): one record per (fold, task, metric), plus a
macro average for multi-task data. Baselines, MuMo and a user's own predictions are scored by one function.
"""

from __future__ import annotations

import logging

import pandas as pd

from mumo.data.sources import DataSourceError, read_csv_checked
from mumo.eval.metrics import get_metric, score
from mumo.eval.predictions import PREDICTION_COLUMNS

logger = logging.getLogger(__name__)

MACRO = "macro"
PRED, PREDICT_FOLD = (
    "pred_",
    "all",
)  # `mumo predict`'s prediction columns, and the fold its rows are scored as


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
    """Score a predictions CSV (the `mumo evaluate` entry point): the long format, or `mumo predict`'s output
    with the label columns beside its pred_<task> columns (`from_predict`)."""
    frame = read_csv_checked(path, [])
    if not set(PREDICTION_COLUMNS) <= set(frame.columns) and any(c.startswith(PRED) for c in frame.columns):
        frame = from_predict(frame, path)
    else:
        frame = read_csv_checked(path, PREDICTION_COLUMNS)
    return score_predictions(frame, metrics)


def from_predict(frame: pd.DataFrame, path: str) -> pd.DataFrame:
    """`mumo predict`'s table in the long format: each pred_<task> against the column <task>, as fold "all"
    (mol_id: the row number). Rows without a prediction are not scored; a warning counts them by status."""
    tasks = [c.removeprefix(PRED) for c in frame.columns if c.startswith(PRED)]
    missing = [t for t in tasks if t not in frame.columns]
    if missing:
        raise DataSourceError(
            f"{path}: predictions {[PRED + t for t in missing]} without their label column(s) {missing}; "
            "add the labels under the model's task names to score them"
        )
    for task in tasks:
        text = frame[task].notna() & pd.to_numeric(frame[task], errors="coerce").isna()
        if text.any():
            row = int(text.idxmax())
            raise DataSourceError(
                f"{path}: label column {task!r} row {row} is not a number: {frame[task][row]!r}"
            )
    unpredicted = frame[[PRED + t for t in tasks]].isna().all(axis=1)
    if unpredicted.any():
        statuses = frame.loc[unpredicted, "status"] if "status" in frame.columns else pd.Series(["?"])
        logger.warning(
            "%s: %d of %d rows have no prediction and are not scored (status %s)",
            path,
            int(unpredicted.sum()),
            len(frame),
            statuses.value_counts().to_dict(),
        )
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "mol_id": frame.index.astype(str),
                    "fold": PREDICT_FOLD,
                    "task": task,
                    "y_true": pd.to_numeric(frame[task]),
                    "y_pred": frame[PRED + task].astype(float),
                }
            ).loc[~unpredicted]
            for task in tasks
        ],
        ignore_index=True,
    )
