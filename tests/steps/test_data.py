import json

import pandas as pd
import pytest

from mumo.data.sources import resolve
from mumo.steps.data import EmptyDataError, split_file, standardise_file


def _custom(tmp_path, smiles, labels):
    path = tmp_path / "assay.csv"
    pd.DataFrame({"smiles": smiles, "active": labels}).to_csv(path, index=False)
    options = {"path": str(path), "label_columns": ["active"], "task_type": "classification"}
    return path, resolve("my_assay", options)


def _standardise(tmp_path, raw, dataset):
    out = {k: str(tmp_path / f"out.{k}") for k in ("csv", "rejected.csv", "counts.json")}
    standardise_file(
        str(raw),
        dataset,
        "largest",
        out_csv=out["csv"],
        rejected_csv=out["rejected.csv"],
        counts_json=out["counts.json"],
    )
    return out


@pytest.mark.parametrize(
    ("smiles", "labels", "reason"),
    [
        (["C1CC", "xyz"], [1, 0], r"2 raw rows rejected: 2 SMILES Parse Error"),
        (["CCO", "CCN"], [None, None], r"2 raw rows rejected: 2 no label"),
    ],
)
def test_a_dataset_without_usable_rows_stops_at_standardise_naming_it(
    tmp_path, caplog, smiles, labels, reason
):
    raw, dataset = _custom(tmp_path, smiles, labels)
    with pytest.raises(EmptyDataError, match=rf"dataset 'my_assay': no usable rows.*{reason}"):
        _standardise(tmp_path, raw, dataset)
    assert f"row 1 '{smiles[1]}' rejected" in caplog.text  # the log outlives the failed job's outputs


def test_a_split_with_an_empty_fold_stops_naming_dataset_split_and_fold(tmp_path):
    raw, dataset = _custom(tmp_path, ["CCO", "CCN", "CCC"], [1, 0, 1])
    table = _standardise(tmp_path, raw, dataset)["csv"]
    out = tmp_path / "split.json"
    with pytest.raises(
        EmptyDataError, match=r"dataset 'my_assay', split random seed 0: fold 'valid' is empty"
    ):
        split_file(table, "random", 0, [0.5, 0.2, 0.3], str(out), dataset="my_assay")
    assert not out.exists()
    # a fold asked to be empty (fraction 0) is not an error
    split_file(table, "random", 0, [0.6, 0.0, 0.4], str(out), dataset="my_assay")
    assert json.loads(out.read_text())["sizes"] == {"train": 1, "valid": 0, "test": 2}
