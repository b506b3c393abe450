import io
import zipfile

import pandas as pd
import pytest
from helpers import MOLECULENET

from mumo.data.sources import DataSourceError, load_raw, read_tdc_group, resolve


@pytest.mark.parametrize(
    ("name", "options", "rows", "columns"),
    [
        ("bbbp", {}, 2039, ["smiles", "p_np"]),
        ("clintox", {"tasks": ["CT_TOX"]}, 1478, ["smiles", "CT_TOX"]),
        ("esol", {}, 1128, ["smiles", "logS"]),  # Delaney's table minus the 16 rows MoleculeNet dropped
        ("freesolv", {}, 642, ["smiles", "expt"]),
        ("lipophilicity", {}, 4200, ["smiles", "exp"]),
    ],
)
def test_offline_sources_match_the_canonical_sizes(name, options, rows, columns, tmp_path):
    frame = load_raw(resolve(name, options, offline_only=True), tmp_path)
    assert frame.shape == (rows, len(columns))
    assert list(frame.columns) == columns


def test_hiv_activity_classes_become_the_binary_label(tmp_path):
    frame = load_raw(resolve("hiv", offline_only=True), tmp_path)
    assert frame["HIV_active"].sum() == 1443


def test_two_task_clintox_is_not_offline():
    with pytest.raises(DataSourceError, match="not available offline"):
        resolve("clintox", offline_only=True)
    assert resolve("clintox").source == "upstream"


def test_unknown_task_is_named():
    with pytest.raises(KeyError, match="unknown task.*'CT_TOXX'"):
        resolve("clintox", {"tasks": ["CT_TOXX"]})


def test_custom_dataset(tmp_path):
    options = {
        "path": str(MOLECULENET / "bbbp.csv"),
        "smiles_column": "smiles",
        "label_columns": ["p_np"],
        "task_type": "classification",
    }
    frame = load_raw(resolve("mine", options), tmp_path)
    assert list(frame.columns) == ["smiles", "p_np"] and len(frame) == 203


@pytest.mark.parametrize(
    ("content", "options", "message"),
    [
        ("", {}, "file is empty"),
        ("smiles,y\n", {}, "no data rows"),
        ("smi,y\nCCO,1\n", {}, r"missing column\(s\) \['smiles'\]; columns present: \['smi', 'y'\]"),
        ("smiles,z\nCCO,1\n", {}, r"missing column\(s\) \['y'\]"),
    ],
)
def test_custom_dataset_bad_files(tmp_path, content, options, message):
    path = tmp_path / "mine.csv"
    path.write_text(content)
    dataset = resolve(
        "mine", {"path": str(path), "label_columns": ["y"], "task_type": "regression", **options}
    )
    with pytest.raises(DataSourceError, match=message):
        load_raw(dataset, tmp_path)


def test_custom_dataset_needs_its_keys():
    with pytest.raises(DataSourceError, match="need 'task_type'"):
        resolve("mine", {"path": "x.csv", "label_columns": ["y"]})


def _group_zip(path, key, train_val: pd.DataFrame, test: pd.DataFrame):
    with zipfile.ZipFile(path, "w") as archive:
        for part, frame in (("train_val", train_val), ("test", test)):
            buffer = io.StringIO()
            frame.to_csv(buffer, index=False)
            archive.writestr(f"admet_group/{key}/{part}.csv", buffer.getvalue())


def test_tdc_group_archive_reads_train_val_then_test(tmp_path):
    bbbp = pd.read_csv(MOLECULENET / "bbbp.csv").head(30)
    drugs = pd.DataFrame({"Drug_ID": bbbp["name"], "Drug": bbbp["smiles"], "Y": bbbp["p_np"]})
    _group_zip(tmp_path / "admet_group.zip", "bbb_martins", drugs.iloc[:24], drugs.iloc[24:])
    frame = read_tdc_group(tmp_path / "admet_group.zip", "bbb_martins")
    assert list(frame.columns) == ["smiles", "Y", "tdc_set"]
    assert frame["tdc_set"].tolist() == ["train_val"] * 24 + ["test"] * 6
    with pytest.raises(DataSourceError, match="admet_group/herg/train_val.csv not found"):
        read_tdc_group(tmp_path / "admet_group.zip", "herg")


def test_tdc_group_rejects_an_html_error_page(tmp_path):
    (tmp_path / "admet_group.zip").write_text("<html>Service Unavailable</html>")
    with pytest.raises(DataSourceError, match="not a valid zip"):
        read_tdc_group(tmp_path / "admet_group.zip", "herg")
