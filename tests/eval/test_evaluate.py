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
    with pytest.raises(
        DataSourceError,
        match=r"p.csv: 1 row\(s\) .* row 1: label not numeric in column 'a' \(value 'active'\)",
    ):
        evaluate_file(str(tmp_path / "p.csv"), ["roc_auc"])


def test_class_labels_that_are_not_0_or_1_are_refused_naming_the_rows(tmp_path):
    """Labels coded 1/2 used to score accuracy 0.167 (not 0.667); standardisation's rule applies here too."""
    frame = pd.DataFrame({"a": [1, 2, 2, 1, 2, 2], "pred_a": [0.1, 0.9, 0.8, 0.2, 0.7, 0.6]})
    frame.to_csv(tmp_path / "p.csv", index=False)
    message = (
        r"p.csv: 4 row\(s\) with a label classification metrics cannot score: "
        r"row 1: class label not 0 or 1 in column 'a' \(value '2'\); row 2: .*; row 4: .* \(and 1 more\)$"
    )
    with pytest.raises(DataSourceError, match=message):
        evaluate_file(str(tmp_path / "p.csv"), ["accuracy"])
    # regression metrics take any finite number, as standardisation does
    assert evaluate_file(str(tmp_path / "p.csv"), ["mae"])["n"].tolist() == [6]


@pytest.mark.parametrize(("label", "why"), [(2, "class label not 0 or 1"), ("inf", "label not finite")])
def test_a_stray_label_in_the_long_format_is_named_not_scored(tmp_path, label, why):
    """A one-class fold has no ROC-AUC; a stray 2 used to turn it into 0.667."""
    frame = pd.DataFrame(
        {
            "mol_id": ["m0", "m1", "m2", "m3"],
            "canonical_smiles": ["C", "CC", "CCC", "CCCC"],
            "fold": "test",
            "task": "y",
            "y_true": [0, 0, label, 0],
            "y_pred": [0.2, 0.4, 0.9, 0.1],
        }
    )
    frame.to_csv(tmp_path / "p.csv", index=False)
    with pytest.raises(DataSourceError, match=rf"p.csv: 1 row\(s\) .*: row 2: {why} in column 'y_true'"):
        evaluate_file(str(tmp_path / "p.csv"), ["roc_auc"])


def test_a_subset_of_rows_or_one_block_per_group_is_scored(tmp_path):
    frame = pd.DataFrame(
        {
            "a": [1, 0, 0, 1, 0, 1],
            "flagged": [1, 0, 1, None, 1, 0],
            "pred_a": [0.9, 0.1, 0.8, 0.2, 0.3, 0.6],
        }
    )
    frame.to_csv(tmp_path / "p.csv", index=False)
    subset = evaluate_file(str(tmp_path / "p.csv"), ["accuracy"], where=["flagged=1"])
    assert subset[["value", "n"]].values.tolist() == [[pytest.approx(2 / 3), 3]]  # rows 0, 2, 4
    groups = evaluate_file(str(tmp_path / "p.csv"), ["accuracy"], group_by="flagged")
    assert groups.columns.tolist() == ["flagged", "fold", "task", "metric", "value", "n"]
    by_group = groups.set_index("flagged")
    assert by_group["n"].to_dict() == {"": 1, "0.0": 2, "1.0": 3}  # the empty cell is its own group
    assert by_group.loc["0.0", "value"] == 1.0 and by_group.loc["", "value"] == 0.0
    with pytest.raises(DataSourceError, match=r"p.csv: no row has flagged=7"):
        evaluate_file(str(tmp_path / "p.csv"), ["accuracy"], where=["flagged=7"])
    with pytest.raises(DataSourceError, match=r"p.csv: missing column\(s\) \['group'\]"):
        evaluate_file(str(tmp_path / "p.csv"), ["accuracy"], group_by="group")
