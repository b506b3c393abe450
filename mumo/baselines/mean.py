"""The mean (dummy) baseline: every molecule gets the training fold's mean label of its task.

For regression that is the mean value, for classification the positive rate, so R² ≈ 0 and ROC-AUC = 0.5 by
construction: a model that does not beat this row has learnt nothing the label distribution did not give.
"""

from __future__ import annotations

import numpy as np


def fit_predict(labels: np.ndarray, train: np.ndarray, n_predict: int) -> np.ndarray:
    """[n_predict, T] predictions from `labels` [n, T] (NaN = unlabelled): each task's mean over its labelled
    training rows; a task with no labelled training row predicts NaN, as the ECFP+RF baseline does."""
    y = labels[train]
    counts = (~np.isnan(y)).sum(axis=0)
    means = np.divide(np.nansum(y, axis=0), counts, out=np.full(y.shape[1], np.nan), where=counts > 0)
    return np.tile(means, (n_predict, 1))
