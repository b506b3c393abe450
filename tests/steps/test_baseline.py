import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from mumo.baselines.ecfp_rf import ecfp4
from mumo.eval.predictions import PREDICTION_COLUMNS
from mumo.steps.baseline import ecfp_file, reference_scores, train_chemprop, train_ecfp_rf, train_mean


def test_train_mean_writes_the_shared_predictions_format(tmp_path):
    table = pd.DataFrame(
        {
            "mol_id": [f"m{i}" for i in range(6)],
            "canonical_smiles": ["C", "CC", "CCC", "CCO", "CCN", "CCCl"],
            "y": [1.0, 2.0, 3.0, 10.0, 20.0, 30.0],
        }
    )
    table.to_csv(tmp_path / "table.csv", index=False)
    (tmp_path / "split.json").write_text(json.dumps({"train": [0, 1, 2], "valid": [3], "test": [4, 5]}))
    out = tmp_path / "predictions.csv"
    train_mean(
        str(tmp_path / "table.csv"), str(tmp_path / "split.json"), SimpleNamespace(tasks=("y",)), str(out)
    )
    predictions = pd.read_csv(out)
    assert set(PREDICTION_COLUMNS) <= set(predictions.columns)
    assert predictions["fold"].tolist() == ["valid", "test", "test"]
    assert predictions["mol_id"].tolist() == ["m3", "m4", "m5"]
    np.testing.assert_allclose(predictions["y_pred"], 2.0)  # the training fold's mean, never the test fold's
    np.testing.assert_allclose(predictions["y_true"], [10.0, 20.0, 30.0])


def _dataset(tmp_path, labels, task_type="classification"):
    """A standardised table of eight small molecules with one task `y`, and its dataset entry."""
    smiles = ["C", "CC", "CCC", "CCO", "CCN", "CCCl", "c1ccccc1", "c1ccccc1O"]
    table = pd.DataFrame({"mol_id": [f"m{i}" for i in range(8)], "canonical_smiles": smiles, "y": labels})
    table.to_csv(tmp_path / "table.csv", index=False)
    return str(tmp_path / "table.csv"), SimpleNamespace(
        tasks=("y",), spec=SimpleNamespace(task_type=task_type)
    )


def test_ecfp_file_stores_the_fingerprints_packed(tmp_path):
    table, _dataset_entry = _dataset(tmp_path, [0, 1] * 4)
    ecfp_file(standardised_csv=table, out_npy=str(tmp_path / "ecfp.npy"), n_bits=64, radius=2)
    packed = np.load(tmp_path / "ecfp.npy")
    assert packed.shape == (8, 64 // 8) and packed.dtype == np.uint8
    smiles = pd.read_csv(table)["canonical_smiles"].tolist()
    np.testing.assert_array_equal(np.unpackbits(packed, axis=1), ecfp4(smiles, n_bits=64, radius=2))


@pytest.mark.parametrize(("task_type", "labels"), [("classification", [0, 1] * 4), ("regression", range(8))])
def test_train_ecfp_rf_predicts_the_valid_and_test_rows_seeded(tmp_path, task_type, labels):
    table, dataset = _dataset(tmp_path, list(labels), task_type)
    ecfp_file(standardised_csv=table, out_npy=str(tmp_path / "ecfp.npy"), n_bits=128, radius=2)
    (tmp_path / "split.json").write_text(json.dumps({"train": [0, 1, 2, 3, 4], "valid": [5], "test": [6, 7]}))
    runs = []
    for seed in (0, 0):
        out = tmp_path / f"predictions{len(runs)}.csv"
        train_ecfp_rf(
            standardised_csv=table,
            split_json=str(tmp_path / "split.json"),
            features_npy=str(tmp_path / "ecfp.npy"),
            dataset=dataset,
            seed=seed,
            settings={"n_estimators": 10},
            threads=1,
            out_predictions=str(out),
        )
        runs.append(pd.read_csv(out))
    predictions = runs[0]
    assert predictions[["mol_id", "fold", "task"]].values.tolist() == [
        ["m5", "valid", "y"],
        ["m6", "test", "y"],
        ["m7", "test", "y"],
    ]
    np.testing.assert_allclose(predictions["y_true"], list(labels)[5:])
    low, high = (0, 1) if task_type == "classification" else (0, 4)  # probabilities; means of train labels
    assert predictions["y_pred"].between(low, high).all()
    pd.testing.assert_frame_equal(runs[0], runs[1])  # one seed, one forest


def test_train_mean_with_an_empty_fold_writes_the_other(tmp_path):
    """A fold asked to be empty (fraction 0) once crashed the mean baseline's log line."""
    table, dataset = _dataset(tmp_path, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], "regression")
    (tmp_path / "split.json").write_text(json.dumps({"train": [0, 1, 2], "valid": [3, 4], "test": []}))
    out = tmp_path / "predictions.csv"
    train_mean(
        standardised_csv=table,
        split_json=str(tmp_path / "split.json"),
        dataset=dataset,
        out_predictions=str(out),
    )
    predictions = pd.read_csv(out)
    assert predictions["fold"].tolist() == ["valid", "valid"]
    np.testing.assert_allclose(predictions["y_pred"], 2.0)


@pytest.mark.slow  # trains Chemprop
def test_train_chemprop_writes_every_task_of_the_valid_and_test_rows_with_missing_labels(tmp_path):
    """Two tasks with unlabelled entries: Chemprop trains on what is labelled and predicts every (row, task)
    of the valid and test folds in the shared format; the unlabelled ones keep y_true NaN (never scored)."""
    smiles = [f"{'C' * n}{end}" for n in range(1, 7) for end in ("", "O", "N")]
    table = pd.DataFrame(
        {
            "mol_id": [f"m{i}" for i in range(len(smiles))],
            "canonical_smiles": smiles,
            "a": [float(i % 2) if i % 4 else np.nan for i in range(len(smiles))],
            "b": [float("N" in s) if i % 5 else np.nan for i, s in enumerate(smiles)],
        }
    )
    table.to_csv(tmp_path / "table.csv", index=False)
    folds = {"train": list(range(12)), "valid": [12, 13, 14], "test": [15, 16, 17]}
    (tmp_path / "split.json").write_text(json.dumps(folds))
    train_chemprop(
        standardised_csv=str(tmp_path / "table.csv"),
        split_json=str(tmp_path / "split.json"),
        dataset=SimpleNamespace(tasks=("a", "b"), spec=SimpleNamespace(task_type="classification")),
        seed=0,
        settings={"epochs": 3, "warmup_epochs": 1, "batch_size": 4, "message_hidden_dim": 16},
        threads=1,
        out_predictions=str(tmp_path / "predictions.csv"),
    )
    predictions = pd.read_csv(tmp_path / "predictions.csv")
    assert set(predictions.columns) == {*PREDICTION_COLUMNS, "canonical_smiles"}
    assert len(predictions) == 6 * 2  # every valid and test row, for each task
    assert predictions.groupby(["fold", "task"]).size().to_dict() == {
        (fold, task): 3 for fold in ("test", "valid") for task in ("a", "b")
    }
    assert predictions["y_pred"].between(0, 1).all()
    expected = table.set_index("mol_id")
    for row in predictions.itertuples():
        assert row.canonical_smiles == expected.loc[row.mol_id, "canonical_smiles"]
        np.testing.assert_equal(row.y_true, expected.loc[row.mol_id, row.task])


def test_reference_scores_train_the_baselines_on_a_table_and_its_splits_per_seed(tmp_path):
    """What a report puts beside MuMo: the mean and ECFP+RF baselines scored per seed on the same files."""
    table, dataset = _dataset(tmp_path, [float(i) for i in range(8)], "regression")
    dataset.spec.name, dataset.spec.metrics, dataset.spec.benchmark = "toy", ("rmse",), "custom"
    splits = {}
    for seed, test in ((0, [6, 7]), (1, [0, 1])):
        splits[seed] = str(tmp_path / f"split{seed}.json")
        train = [i for i in range(8) if i not in test and i != 5 - seed]
        Path(splits[seed]).write_text(json.dumps({"train": train, "valid": [5 - seed], "test": test}))
    settings = {"ecfp_rf": {"n_bits": 64, "n_estimators": 5}}
    scores = reference_scores(table, splits, dataset, str(tmp_path / "reference"), settings=settings)
    test = scores[scores["fold"] == "test"]
    assert sorted(zip(test["model"], test["seed"], strict=True)) == [
        ("ecfp_rf", 0), ("ecfp_rf", 1), ("mean", 0), ("mean", 1)
    ]  # fmt: skip
    assert set(test["split"]) == {"custom"} and set(test["metric"]) == {"rmse"}
    mean_seed0 = test[(test["model"] == "mean") & (test["seed"] == 0)]["value"].item()
    assert mean_seed0 == pytest.approx(np.sqrt(np.mean((np.array([6.0, 7.0]) - 2.0) ** 2)))  # train mean 2
    assert (tmp_path / "reference/runs/ecfp_rf/seed1/done.json").exists()
