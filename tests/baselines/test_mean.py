import numpy as np

from mumo.baselines.mean import fit_predict


def test_predicts_each_tasks_training_mean_ignoring_missing_labels():
    labels = np.array([[1.0, 0.0], [3.0, np.nan], [np.nan, 1.0], [5.0, 1.0], [100.0, 0.0]])
    pred = fit_predict(labels, np.arange(4), 3)
    # task 0: mean of 1, 3, 5 (row 4 is not in the training fold); task 1: positive rate 2 of 3
    np.testing.assert_allclose(pred, [[3.0, 2 / 3]] * 3)


def test_a_task_without_training_labels_predicts_nan():
    labels = np.array([[np.nan, 1.0], [np.nan, 2.0], [4.0, 3.0]])
    pred = fit_predict(labels, np.arange(2), 2)
    assert np.isnan(pred[:, 0]).all() and pred[:, 1].tolist() == [1.5, 1.5]
