"""The Chemprop (D-MPNN) baseline: settings checked naming the key, training through Chemprop's own API."""

import numpy as np
import pytest

from mumo.baselines.chemprop import ChempropSettings, fit_predict

#: 40 small molecules: chains of 1-10 carbons ending in H, O, N or Cl
SMILES = [f"{'C' * n}{end}" for n in range(1, 11) for end in ("", "O", "N", "Cl")]
CARBONS = np.array([n for n in range(1, 11) for _ in range(4)], dtype=float)
SMALL = dict(message_hidden_dim=32, ffn_hidden_dim=32, batch_size=8)


def _folds(n_train: int, n_valid: int) -> dict[str, np.ndarray]:
    order = np.random.default_rng(0).permutation(len(SMILES))
    train, valid = order[:n_train], order[n_train : n_train + n_valid]
    return {"train": train, "valid": valid, "predict": order[n_train + n_valid :]}


def test_defaults_are_chemprops_own_but_the_batch_and_epochs():
    settings = ChempropSettings.from_dict({})
    assert (settings.epochs, settings.batch_size) == (30, 50)
    assert (settings.message_hidden_dim, settings.depth, settings.ffn_num_layers) == (300, 3, 1)
    assert (settings.init_lr, settings.max_lr, settings.final_lr, settings.warmup_epochs) == (
        1e-4,
        1e-3,
        1e-4,
        2,
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"epoch": 3}, r"unknown setting\(s\) \['epoch'\]; valid settings: epochs, batch_size"),
        ({"epochs": 0}, r"setting epochs must be an integer >= 1, got 0"),
        ({"epochs": 2.5}, r"setting epochs must be an integer >= 1, got 2.5"),
        ({"batch_size": True}, r"setting batch_size must be an integer >= 1, got True"),
        ({"depth": "3"}, r"setting depth must be an integer >= 1, got '3'"),
        ({"dropout": 1.0}, r"setting dropout must be a number in \[0, 1\), got 1.0"),
        ({"max_lr": -1e-3}, r"setting max_lr must be a finite number > 0, got -0.001"),
        ({"init_lr": float("nan")}, r"setting init_lr must be a finite number > 0, got nan"),
        ({"final_lr": "1e-4"}, r"setting final_lr must be a finite number > 0, got '1e-4'"),
        ({"aggregation": "max"}, r"setting aggregation must be one of mean, sum, norm, got 'max'"),
        ({"batch_norm": "no"}, r"setting batch_norm must be true or false, got 'no'"),
        ({"patience": 0}, r"setting patience must be an integer >= 1 or null, got 0"),
        ({"warmup_epochs": -1}, r"setting warmup_epochs must be an integer >= 0, got -1"),
        ({"epochs": 2, "warmup_epochs": 2}, r"setting warmup_epochs \(2\) must be below epochs \(2\)"),
    ],
)
def test_bad_settings_are_refused_naming_the_key(options, message):
    with pytest.raises(ValueError, match=message):
        ChempropSettings.from_dict(options)


@pytest.mark.slow
def test_overfits_a_tiny_regression_set_far_below_the_mean_predictor():
    """Chemprop's message passing learns a chain's length: on its own training rows its error is a small
    fraction of the mean predictor's (the label variance), in the labels' units (its output transform)."""
    labels = CARBONS[:, None] * 10.0 + 100.0  # far from 0 and 1: unscaled outputs would be way off
    folds = {"train": np.arange(len(SMILES)), "valid": np.arange(len(SMILES))}
    folds["predict"] = folds["train"]
    settings = ChempropSettings(
        epochs=40, warmup_epochs=2, max_lr=3e-3, final_lr=3e-4, **{**SMALL, "batch_size": 10}
    )
    predictions = fit_predict(SMILES, labels, folds, "regression", seed=0, settings=settings)
    mean_error = np.mean((labels - labels.mean()) ** 2)
    assert np.mean((predictions - labels) ** 2) < 0.1 * mean_error


@pytest.mark.slow  # three Chemprop trainings
def test_multi_task_classification_with_missing_labels_predicts_probabilities_seeded():
    """Unlabelled entries are NaN targets that Chemprop masks in its loss; a task with no training label at
    all predicts NaN (as the mean and ECFP+RF baselines do); the same seed gives the same predictions."""
    has_nitrogen = np.array(["N" in s for s in SMILES], dtype=float)
    long_chain = (CARBONS > 5).astype(float)
    labels = np.stack([has_nitrogen, long_chain, np.full(len(SMILES), np.nan)], axis=1)
    labels[::3, 0] = np.nan
    labels[1::4, 1] = np.nan
    folds = _folds(28, 6)
    settings = ChempropSettings(epochs=4, warmup_epochs=1, **SMALL)
    first, second = (
        fit_predict(SMILES, labels, folds, "classification", seed=3, settings=settings) for _ in range(2)
    )
    assert first.shape == (len(folds["predict"]), 3)
    assert np.isnan(first[:, 2]).all()
    assert ((first[:, :2] > 0) & (first[:, :2] < 1)).all()
    np.testing.assert_array_equal(first, second)


@pytest.mark.slow  # trains Chemprop
def test_without_validation_rows_the_last_epoch_predicts(caplog):
    folds = _folds(34, 0)
    settings = ChempropSettings(epochs=2, warmup_epochs=1, **SMALL)
    predictions = fit_predict(SMILES, CARBONS[:, None], folds, "regression", seed=0, settings=settings)
    assert predictions.shape == (6, 1) and np.isfinite(predictions).all()
    assert "no validation rows" in caplog.text


def test_the_callers_torch_threads_and_determinism_flag_come_back():
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    settings = ChempropSettings(epochs=2, warmup_epochs=1, **SMALL)
    fit_predict(SMILES, CARBONS[:, None], _folds(30, 5), "regression", seed=0, settings=settings, threads=1)
    assert torch.get_num_threads() == threads
    assert not torch.are_deterministic_algorithms_enabled()
