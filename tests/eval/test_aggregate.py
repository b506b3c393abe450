import json

import numpy as np
import pandas as pd
import pytest

from mumo.eval.aggregate import TABLE_COLUMNS, aggregate, run_scores
from mumo.eval.evaluate import MACRO, score_predictions


def _run(tmp_path, seed, value, n_train, dataset="d", metric="rmse"):
    record = {
        "benchmark": "MoleculeNet",
        "dataset": dataset,
        "split": "random",
        "seed": seed,
        "model": "m",
        "n_train": n_train,
        "n_valid": 2,
        "n_test": 3,
        "scores": [
            {"fold": "test", "task": "y", "metric": metric, "value": value, "n": 3},
            {"fold": "valid", "task": "y", "metric": metric, "value": 99.0, "n": 2},
        ],
    }
    path = tmp_path / f"seed{seed}.json"
    path.write_text(json.dumps(record))
    return path


def test_mean_sample_std_and_counts_match_hand_computation(tmp_path):
    paths = [_run(tmp_path, s, v, n) for s, v, n in [(0, 1.0, 10), (1, 2.0, 11), (2, 4.0, 12)]]
    table = aggregate(run_scores(paths))
    assert list(table.columns) == TABLE_COLUMNS
    (row,) = table.to_dict(orient="records")
    assert row["mean"] == pytest.approx(7 / 3)
    assert row["std"] == pytest.approx(np.sqrt(((1 - 7 / 3) ** 2 + (2 - 7 / 3) ** 2 + (4 - 7 / 3) ** 2) / 2))
    assert (row["n_seeds"], row["n_train"], row["n_valid"], row["n_test"]) == (3, 11, 2, 3)


def test_the_table_carries_the_published_numbers_beside_ours(tmp_path):
    paths = [_run(tmp_path, s, v, 10, dataset="esol") for s, v in [(0, 0.5), (1, 0.7)]]
    (row,) = aggregate(run_scores(paths)).to_dict(orient="records")
    assert row["mean"] == pytest.approx(0.6) and row["std"] == pytest.approx(np.sqrt(0.02))
    # selmiss/MuMo: ESOL random RMSE 0.536 ± 0.061 over 3 split files
    assert (row["published_mumo"], row["published_mumo_std"], row["published_mumo_n"]) == (0.536, 0.061, 3)
    assert row["best_published_model"] and row["protocol_note"]


def test_single_seed_has_no_std_and_nan_values_are_not_counted(tmp_path):
    paths = [_run(tmp_path, 0, 1.0, 10), _run(tmp_path, 1, float("nan"), 10)]
    (row,) = aggregate(run_scores(paths)).to_dict(orient="records")
    assert row["n_seeds"] == 1 and row["mean"] == 1.0 and np.isnan(row["std"])


def test_macro_row_averages_tasks():
    predictions = pd.DataFrame(
        {
            "mol_id": list("abcdabcd"),
            "fold": "test",
            "task": ["t1"] * 4 + ["t2"] * 4,
            "y_true": [0, 1, 0, 1, 0, 1, 1, np.nan],
            "y_pred": [0.1, 0.9, 0.2, 0.8, 0.9, 0.1, 0.5, 0.3],
        }
    )
    scores = score_predictions(predictions, ["roc_auc"]).set_index("task")["value"]
    assert scores["t1"] == 1.0 and scores["t2"] == 0.0
    assert scores[MACRO] == pytest.approx(0.5)
