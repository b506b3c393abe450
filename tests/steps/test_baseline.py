import json
from types import SimpleNamespace

import numpy as np
import pandas as pd

from mumo.eval.predictions import PREDICTION_COLUMNS
from mumo.steps.baseline import train_mean


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
