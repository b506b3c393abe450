import pandas as pd
import pytest
from helpers import MOLECULENET

from mumo.data.splits import FOLDS, fold_column_split, folds_of_rows, make_split, scaffold_key
from mumo.data.standardise import standardise


@pytest.fixture(scope="module")
def bbbp() -> pd.DataFrame:
    raw = pd.read_csv(MOLECULENET / "bbbp.csv").rename(columns={"p_np": "y"})[["smiles", "y"]]
    return standardise(raw, ["y"], "classification", "bbbp").table


def _scaffolds(table, rows):
    return {scaffold_key(s) for s in table["canonical_smiles"].iloc[rows]}


@pytest.mark.parametrize("name", ["random", "scaffold", "balanced_scaffold"])
def test_folds_partition_the_rows_in_the_requested_sizes(bbbp, name):
    split = make_split(bbbp, name, seed=0)
    rows = [i for fold in FOLDS for i in split[fold]]
    assert sorted(rows) == list(range(len(bbbp)))
    assert len(split["train"]) <= int(0.8 * len(bbbp))
    assert len(split["train"]) >= int(0.7 * len(bbbp))


@pytest.mark.parametrize("name", ["scaffold", "balanced_scaffold"])
def test_no_scaffold_is_shared_between_folds(bbbp, name):
    for seed in (0, 1, 2):
        split = make_split(bbbp, name, seed)
        train, valid, test = (_scaffolds(bbbp, split[f]) for f in FOLDS)
        assert not train & test and not train & valid and not valid & test


@pytest.mark.parametrize("name", ["random", "scaffold", "balanced_scaffold"])
def test_splits_are_reproducible(bbbp, name):
    assert make_split(bbbp, name, 7) == make_split(bbbp, name, 7)


def test_seeded_splits_differ_between_seeds_and_scaffold_does_not(bbbp):
    assert make_split(bbbp, "random", 0) != make_split(bbbp, "random", 1)
    assert make_split(bbbp, "balanced_scaffold", 0) != make_split(bbbp, "balanced_scaffold", 1)
    assert make_split(bbbp, "scaffold", 0) == make_split(bbbp, "scaffold", 1)


def test_scaffold_puts_the_largest_sets_in_train():
    table = pd.DataFrame(
        {"canonical_smiles": ["c1ccccc1C"] * 6 + ["C1CCCCC1C", "C1CCCCC1CC"] + ["c1ccncc1C", "C1CC1C"]}
    )
    split = make_split(table, "scaffold", 0, (0.8, 0.1, 0.1))
    assert split == {"train": [0, 1, 2, 3, 4, 5, 6, 7], "valid": [8], "test": [9]}


def test_tdc_split_keeps_the_shipped_test_set():
    table = pd.DataFrame(
        {
            "smiles": [
                "c1ccccc1C",
                "c1ccccc1CC",
                "C1CCCCC1C",
                "c1ccncc1C",
                "CCO",
                "CCCO",
                "CCN",
                "C1CC1",
            ],
            "tdc_set": ["train_val"] * 6 + ["test"] * 2,
        }
    )
    for seed in (1, 2, 3):
        split = make_split(table, "tdc", seed)
        assert split["test"] == [6, 7]
        assert sorted(split["train"] + split["valid"]) == list(range(6))
        assert len(split["train"]) <= int(6 * 0.875)


def test_unknown_split_and_bad_fractions():
    table = pd.DataFrame({"canonical_smiles": ["CCO", "CCN"]})
    with pytest.raises(KeyError, match="valid splits: random, scaffold, balanced_scaffold, tdc"):
        make_split(table, "stratified", 0)
    with pytest.raises(ValueError, match="sum to 1"):
        make_split(table, "random", 0, (0.8, 0.3, 0.1))
    with pytest.raises(ValueError, match="needs a TDC benchmark-group dataset"):
        make_split(table, "tdc", 0)


def test_authors_split_is_their_folds_row_for_row():
    table = pd.DataFrame(
        {
            "canonical_smiles": ["C", "CC", "CCC", "CCCC", "CCO"],
            "authors_set": ["test", "train", "valid", "train", "test"],
        }
    )
    assert make_split(table, "authors", seed=3) == {"train": [1, 3], "valid": [2], "test": [0, 4]}
    with pytest.raises(ValueError, match="'authors' split needs the authors' table"):
        make_split(table.drop(columns="authors_set"), "authors", seed=0)


def test_fold_column_split_follows_the_input_rows_of_the_kept_molecules():
    table = pd.DataFrame({"row": [0, 2, 3]})  # input row 1 was rejected by standardisation
    folds = fold_column_split(table, ["train", "test", "valid", "test"], "d.csv")
    assert folds == {"train": [0], "valid": [1], "test": [2]}
    with pytest.raises(
        ValueError, match=r"d.csv: row 1 has 'dev'; every row needs one of train, valid, test"
    ):
        fold_column_split(table, ["train", "dev", "test", "dev"], "d.csv")


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (
            {"train": [0, 1, 2], "valid": [], "test": [3, 2]},
            r"1 row\(s\) listed more than once: 2 \(train/test\)",
        ),
        ({"train": [0, 1, 1], "test": [2, 3]}, r"1 row\(s\) listed more than once: 1 \(train/train\)"),
        ({"train": [0, 1, 2], "test": [3, 7]}, r"test row\(s\) 7 are not input rows \(integers 0..3\)"),
        ({"train": [0, 1, -1], "test": [2, 3]}, r"train row\(s\) -1 are not input rows"),
        ({"train": [0, "1", 2], "test": [3]}, r"train row\(s\) 1 are not input rows"),
        ({"train": [0, 1], "val": [2], "test": [3]}, r"unknown fold\(s\) 'val'; folds: train, valid, test"),
        ({"train": [0, 1], "test": [3]}, r"1 row\(s\) in no fold: 2"),
        (
            {"train": [0, 1, 2, 3], "test": []},
            r"the test fold is empty; training needs molecules in train and test",
        ),
        ({"valid": [0, 1], "test": [2, 3]}, r"the train fold is empty"),
    ],
)
def test_user_folds_with_a_row_twice_out_of_range_or_an_empty_needed_fold_are_refused(given, message):
    with pytest.raises(ValueError, match=rf"^s.json: {message}"):
        folds_of_rows(given, 4, "s.json")


def test_user_folds_give_each_row_its_fold_and_may_leave_valid_empty():
    assert folds_of_rows({"train": [2, 0], "test": [1]}, 3, "s.json") == ["train", "test", "train"]
    assert folds_of_rows({"train": [0], "valid": [2], "test": [1]}, 3, "s.json") == ["train", "test", "valid"]


def test_fold_column_split_refuses_a_test_fold_emptied_by_standardisation():
    table = pd.DataFrame({"row": [0, 2, 3]})  # input row 1, the only test row, was rejected
    with pytest.raises(ValueError, match=r"d.csv \(rows kept by standardisation\): the test fold is empty"):
        fold_column_split(table, ["train", "test", "valid", "train"], "d.csv")
