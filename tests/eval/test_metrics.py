import math

import numpy as np
import pytest

from mumo.eval.metrics import get_metric, score


def test_values_against_hand_computed_numbers():
    y, p = np.array([0, 0, 1, 1]), np.array([0.1, 0.6, 0.4, 0.9])
    assert score("roc_auc", y, p) == pytest.approx(0.75)
    assert score("accuracy", y, p) == pytest.approx(0.5)
    yr, pr = np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 5.0])
    assert score("rmse", yr, pr) == pytest.approx(math.sqrt(4 / 3))
    assert score("mae", yr, pr) == pytest.approx(2 / 3)
    assert score("spearman", yr, pr) == pytest.approx(1.0)


def test_missing_labels_are_dropped_not_scored_as_negative():
    y = np.array([0, 1, np.nan, 1])
    p = np.array([0.2, 0.8, 0.99, 0.7])
    assert score("roc_auc", y, p) == 1.0


def test_undefined_metrics_are_nan():
    assert math.isnan(score("roc_auc", np.array([1, 1, 1]), np.array([0.2, 0.4, 0.9])))
    assert math.isnan(score("pearson", np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.0, 2.0])))


def test_unknown_metric():
    with pytest.raises(KeyError, match="valid metrics: roc_auc"):
        get_metric("auc")
