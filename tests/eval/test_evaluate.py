"""`evaluate_file` on both formats: the long predictions file and `mumo predict`'s table with its labels."""

import pandas as pd
import pytest

from mumo.data.sources import DataSourceError
from mumo.eval.evaluate import evaluate_file


def test_predict_output_with_labels_is_scored_per_task_as_fold_all(tmp_path, caplog):
    frame = pd.DataFrame(
        {
            "smiles": ["C", "CC", "CCC", "x", "CCCC"],
            "a": [1, 0, 1, 1, None],
            "b": [0.5, 1.5, 2.5, 3.0, 4.0],
            "status": ["ok", "ok", "ok", "invalid_smiles", "ok"],
            "pred_a": [0.9, 0.2, 0.6, None, 0.1],
            "std_a": [0.1, 0.1, 0.1, None, 0.1],
            "pred_b": [0.5, 1.0, 3.5, None, 4.0],
        }
    )
    frame.to_csv(tmp_path / "p.csv", index=False)
    scores = evaluate_file(str(tmp_path / "p.csv"), ["mae"]).set_index("task")
    assert scores.loc["b", "value"] == pytest.approx((0 + 0.5 + 1 + 0) / 4) and scores.loc["b", "n"] == 4
    assert scores.loc["a", "n"] == 3 and set(scores["fold"]) == {"all"}  # unlabelled and unpredicted out
    assert "1 of 5 rows have no prediction" in caplog.text and "invalid_smiles" in caplog.text


def test_predict_output_without_its_labels_is_refused_naming_the_columns(tmp_path):
    pd.DataFrame({"smiles": ["C"], "pred_a": [0.5]}).to_csv(tmp_path / "p.csv", index=False)
    with pytest.raises(DataSourceError, match=r"p.csv: predictions \['pred_a'\] without their label"):
        evaluate_file(str(tmp_path / "p.csv"), ["roc_auc"])


def test_a_label_that_is_not_a_number_is_named_with_its_row(tmp_path):
    pd.DataFrame({"a": ["1", "active"], "pred_a": [0.5, 0.2]}).to_csv(tmp_path / "p.csv", index=False)
    with pytest.raises(DataSourceError, match=r"p.csv: label column 'a' row 1 is not a number: 'active'"):
        evaluate_file(str(tmp_path / "p.csv"), ["roc_auc"])
