"""Score a predictions file (format: mumo.eval.predictions): one record per (fold, task, metric), plus a
macro average for multi-task data. Baselines, MuMo and a user's own predictions are scored by one function.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pandas as pd

from mumo.data.registry import CLASSIFICATION, DEFAULT_METRICS, REGRESSION
from mumo.data.sources import DataSourceError, read_csv_checked
from mumo.data.standardise import label_problems
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


def evaluate_file(
    path: str, metrics: list[str], *, where: Sequence[str] = (), group_by: str | None = None
) -> pd.DataFrame:
    """Score a predictions CSV (the `mumo evaluate` entry point): the long format, or `mumo predict`'s output
    with the label columns beside its pred_<task> columns (`from_predict`).

    Labels follow standardisation's rule (`label_problems`; class labels 0 or 1 when a classification metric
    is asked for): a bad one stops, naming its rows. `where` ("COLUMN=VALUE", all must hold) scores a subset
    of the rows; `group_by` a COLUMN gives one block of scores per value of it (a first column of that name).
    """
    task_type = metrics_task_type(metrics)
    filters = dict(_column_value(item) for item in where)
    keys = list(dict.fromkeys([*filters, *([group_by] if group_by else [])]))
    columns = read_csv_checked(path, []).columns
    predict_format = not set(PREDICTION_COLUMNS) <= set(columns) and any(c.startswith(PRED) for c in columns)
    required = [*([] if predict_format else PREDICTION_COLUMNS), *keys]
    frame = _rows_where(read_csv_checked(path, required, dtype=dict.fromkeys(keys, "string")), filters, path)
    if predict_format:
        frame = from_predict(frame, path, task_type, carry=keys)
    else:
        check_labels(frame, ["y_true"], task_type, path)
    if group_by is None:
        return score_predictions(frame, metrics)
    blocks = [  # a row without a value is its own group (""), not dropped
        score_predictions(part, metrics).assign(**{group_by: value})
        for value, part in frame.groupby(frame[group_by].fillna(""), sort=True)
    ]
    return pd.concat(blocks, ignore_index=True)[[group_by, *blocks[0].columns.drop(group_by)]]


def metrics_task_type(metrics: Sequence[str]) -> str:
    """Classification when any metric asked for is a classification one (its labels must then be 0 or 1)."""
    return CLASSIFICATION if set(metrics) & set(DEFAULT_METRICS[CLASSIFICATION]) else REGRESSION


def check_labels(frame: pd.DataFrame, columns: Sequence[str], task_type: str, path: str) -> None:
    """Labels that standardisation would reject stop the scoring, naming the rows (0-based data rows)."""
    found = {}
    for column in columns:
        problems, _ = label_problems(frame[column], column, task_type)
        found |= {row: why for row, why in problems[problems != ""].items() if row not in found}
    if found:
        shown = "; ".join(f"row {row}: {why}" for row, why in sorted(found.items())[:3])
        more = f" (and {len(found) - 3} more)" if len(found) > 3 else ""
        raise DataSourceError(
            f"{path}: {len(found)} row(s) with a label {task_type} metrics cannot score: {shown}{more}"
        )


def _column_value(item: str) -> tuple[str, str]:
    column, sep, value = item.partition("=")
    if not sep or not column:
        raise ValueError(f"a row filter is COLUMN=VALUE, got {item!r}")
    return column.strip(), value.strip()


def _rows_where(frame: pd.DataFrame, filters: dict[str, str], path: str) -> pd.DataFrame:
    """The rows whose COLUMN equals VALUE for every filter (as written, or as the same number)."""
    keep = pd.Series(True, index=frame.index)
    for column, value in filters.items():
        written = frame[column].str.strip()
        same = written == value
        number = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
        if pd.notna(number):
            same |= pd.to_numeric(written, errors="coerce") == number
        keep &= same.fillna(False)
    if not keep.any():
        wanted = ", ".join(f"{c}={v}" for c, v in filters.items())
        raise DataSourceError(f"{path}: no row has {wanted}")
    return frame.loc[keep]


def from_predict(
    frame: pd.DataFrame, path: str, task_type: str = REGRESSION, *, carry: Sequence[str] = ()
) -> pd.DataFrame:
    """`mumo predict`'s table in the long format: each pred_<task> against the column <task>, as fold "all"
    (mol_id: the row number), with the `carry` columns kept. Labels are checked (`check_labels`); rows
    without a prediction are not scored, and a warning counts them by status."""
    tasks = [c.removeprefix(PRED) for c in frame.columns if c.startswith(PRED)]
    missing = [t for t in tasks if t not in frame.columns]
    if missing:
        raise DataSourceError(
            f"{path}: predictions {[PRED + t for t in missing]} without their label column(s) {missing}; "
            "add the labels under the model's task names to score them"
        )
    check_labels(frame, tasks, task_type, path)
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
                    **{column: frame[column] for column in carry},
                }
            ).loc[~unpredicted]
            for task in tasks
        ],
        ignore_index=True,
    )
