import numpy as np
import pytest

from mumo.baselines.ecfp_rf import RandomForestSettings, ecfp4, fit_predict


def test_ecfp4_bits():
    bits = ecfp4(["CCO", "c1ccccc1O"], n_bits=2048)
    assert bits.shape == (2, 2048) and bits.dtype == np.uint8
    assert 0 < bits[0].sum() < bits[1].sum()
    with pytest.raises(ValueError, match="row 1"):
        ecfp4(["CCO", "not a smiles"])


def test_forest_learns_a_separable_task_and_masks_missing_labels():
    rng = np.random.default_rng(0)
    features = rng.integers(0, 2, size=(200, 64)).astype(np.uint8)
    y1 = features[:, 0].astype(float)
    y2 = features[:, 1].astype(float)
    y2[::3] = np.nan  # missing labels must be left out of training, never guessed as 0
    labels = np.stack([y1, y2], axis=1)
    train, test = np.arange(150), np.arange(150, 200)
    pred = fit_predict(
        features,
        labels,
        train,
        test,
        "classification",
        seed=0,
        settings=RandomForestSettings(n_estimators=50),
    )
    assert pred.shape == (50, 2)
    assert ((pred[:, 0] >= 0.5) == y1[test].astype(bool)).mean() > 0.9
    assert ((pred[:, 1] >= 0.5) == (features[test, 1] == 1)).mean() > 0.9


def test_single_class_training_labels_predict_that_class():
    features = np.eye(6, dtype=np.uint8)
    labels = np.ones((6, 1))
    pred = fit_predict(features, labels, np.arange(4), np.arange(4, 6), "classification", seed=0)
    assert pred.tolist() == [[1.0], [1.0]]


def test_regression_is_seeded():
    rng = np.random.default_rng(1)
    features = rng.integers(0, 2, size=(60, 32)).astype(np.uint8)
    labels = features[:, :1].astype(float) * 2.0 + rng.normal(size=(60, 1)) * 0.1
    args = (features, labels, np.arange(50), np.arange(50, 60), "regression")
    # threads: the result must not depend on which thread finishes first
    options = {"seed": 3, "settings": RandomForestSettings(n_estimators=20), "threads": 2}
    np.testing.assert_array_equal(fit_predict(*args, **options), fit_predict(*args, **options))
