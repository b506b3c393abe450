"""Metrics by name. Each knows its direction; all take true values and continuous predictions.

Classification metrics get probabilities of class 1: ROC-AUC and average precision (TDC's "pr-auc") use
them as scores; accuracy and weighted F1 threshold at p >= 0.5. A metric that is undefined for the data
(one class only in y_true, constant predictions for a correlation) returns NaN rather than raising, so one
degenerate task cannot hide the others; the aggregate table counts only finite values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats
from sklearn import metrics as skm


@dataclass(frozen=True)
class Metric:
    name: str
    label: str
    higher_is_better: bool
    fn: Callable[[np.ndarray, np.ndarray], float]
    needs_two_classes: bool = False


def _pearson(y, p):
    return float(stats.pearsonr(y, p)[0]) if np.std(p) > 0 and np.std(y) > 0 else float("nan")


def _spearman(y, p):
    return float(stats.spearmanr(y, p)[0]) if np.std(p) > 0 and np.std(y) > 0 else float("nan")


METRICS: dict[str, Metric] = {
    m.name: m
    for m in [
        Metric("roc_auc", "ROC-AUC", True, skm.roc_auc_score, needs_two_classes=True),
        Metric("pr_auc", "AUPRC", True, skm.average_precision_score, needs_two_classes=True),
        Metric("accuracy", "Accuracy", True, lambda y, p: skm.accuracy_score(y, p >= 0.5)),
        Metric("f1", "F1 (weighted)", True, lambda y, p: skm.f1_score(y, p >= 0.5, average="weighted")),
        Metric("rmse", "RMSE", False, lambda y, p: float(np.sqrt(skm.mean_squared_error(y, p)))),
        Metric("mae", "MAE", False, skm.mean_absolute_error),
        Metric("r2", "R²", True, skm.r2_score),
        Metric("pearson", "Pearson r", True, _pearson),
        Metric("spearman", "Spearman ρ", True, _spearman),
    ]
}


def get_metric(name: str) -> Metric:
    try:
        return METRICS[name]
    except KeyError:
        raise KeyError(f"unknown metric {name!r}; valid metrics: {', '.join(METRICS)}") from None


def score(name: str, y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """The metric on labelled entries only (NaN labels are dropped here, never scored as 0)."""
    metric = get_metric(name)
    y_true, y_pred = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    keep = ~np.isnan(y_true) & ~np.isnan(y_pred)
    y_true, y_pred = y_true[keep], y_pred[keep]
    if len(y_true) == 0 or (metric.needs_two_classes and len(np.unique(y_true)) < 2):
        return float("nan")
    return float(metric.fn(y_true, y_pred))
