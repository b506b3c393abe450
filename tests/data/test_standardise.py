import numpy as np
import pandas as pd
import pytest

from mumo.data.standardise import canonicalise, standardise


def test_bad_rows_are_rejected_with_reasons_and_nothing_is_lost():
    raw = pd.DataFrame(
        {
            "smiles": ["CCO", "C1CC", "", None, "CC(C)(C)(C)(C)C", "CCN", "c1ccccc1"],
            "y": [1, 1, 1, 1, 1, "active", None],
        }
    )
    result = standardise(raw, ["y"], "classification", "t")
    reasons = dict(zip(result.rejected["row"], result.rejected["reason"], strict=True))
    assert reasons[1] == "SMILES Parse Error: unclosed ring for input: 'C1CC'"
    assert reasons[2] == reasons[3] == "empty SMILES"
    assert "valence" in reasons[4]
    assert reasons[5] == "label not numeric in column 'y' (value 'active')"
    assert reasons[6] == "no label"
    assert result.table["row"].tolist() == [0]
    assert result.counts["raw"] == 7 and result.counts["kept"] + result.counts["rejected"] == 7


def test_salts_keep_the_largest_fragment_and_isotopes_and_stereo_survive():
    assert canonicalise("[Na+].CC(=O)[O-]")[0] == "CC(=O)[O-]"
    assert canonicalise("[Cl-].C[NH3+]", fragments="keep")[0] == "C[NH3+].[Cl-]"
    assert canonicalise("[13CH3]O")[0] == "[13CH3]O"
    assert canonicalise("C[C@H](N)O")[0] == "C[C@@H](N)O" or "@" in canonicalise("C[C@H](N)O")[0]
    with pytest.raises(ValueError, match="unknown fragment policy"):
        canonicalise("CCO", fragments="smallest")


@pytest.mark.parametrize(
    ("smiles", "kept"),
    [
        ("N.N.Cl[Pt]Cl", "[Cl][Pt][Cl]"),  # cisplatin: PtCl2 (3 heavy atoms), not NH3 (4 atoms with H)
        ("Cl[Pt]Cl.N.N", "[Cl][Pt][Cl]"),
        ("CCN(CC)CC.Cl", "CCN(CC)CC"),  # triethylamine hydrochloride
        ("Cl.CN1CCC[C@H]1c1cccnc1", "CN1CCC[C@H]1c1cccnc1"),  # nicotine hydrochloride, stereo kept
        ("CC.O=C=O", "O=C=O"),  # both organic: 3 heavy atoms beat 2 (ethane has 8 atoms with H)
        ("CCO.COC", "CCO"),  # a tie in heavy atoms and weight: the first SMILES alphabetically
        ("COC.CCO", "CCO"),  # whatever the order in the input
        ("O.[Na+].[Cl-]", "[Cl-]"),  # no carbon anywhere: heavier Cl over Na and O
    ],
)
def test_the_largest_fragment_counts_heavy_atoms_with_a_deterministic_tie_break(smiles, kept):
    assert canonicalise(smiles) == (kept, "")


def test_duplicates_merge_regression_by_mean_and_list_the_merged_rows():
    raw = pd.DataFrame({"smiles": ["OCC", "CCO", "C(C)O", "CCC"], "y": [1.0, 2.0, 6.0, 0.5]})
    result = standardise(raw, ["y"], "regression", "d")
    assert result.table["y"].tolist() == [3.0, 0.5]
    assert result.table["mol_id"].tolist() == ["d:0", "d:3"]
    assert result.rejected["reason"].tolist() == ["duplicate of row 0 (merged)"] * 2


def test_conflicting_classification_labels_blank_that_task_only():
    raw = pd.DataFrame({"smiles": ["CCO", "OCC", "CCN", "NCC"], "a": [1, 0, 1, 1], "b": [1, 1, 0, 1]})
    result = standardise(raw, ["a", "b"], "classification", "d")
    table = result.table.set_index("canonical_smiles")
    assert np.isnan(table.loc["CCO", "a"]) and table.loc["CCO", "b"] == 1
    assert np.isnan(table.loc["CCN", "b"]) and table.loc["CCN", "a"] == 1


def test_a_molecule_left_without_labels_is_rejected_as_conflicting():
    raw = pd.DataFrame({"smiles": ["CCO", "OCC"], "y": [1, 0]})
    result = standardise(raw, ["y"], "classification", "d")
    assert result.table.empty
    assert set(result.rejected["reason"]) == {
        "duplicate of row 0 (merged)",
        "conflicting labels between duplicates",
    }


def test_tdc_sets_are_never_merged_across():
    raw = pd.DataFrame({"smiles": ["CCO", "OCC"], "Y": [1.0, 2.0], "tdc_set": ["train_val", "test"]})
    result = standardise(raw, ["Y"], "regression", "d")
    assert result.table["tdc_set"].tolist() == ["train_val", "test"]


def test_labels_must_be_finite_and_classes_zero_or_one_each_rejection_named_and_counted():
    raw = pd.DataFrame(
        {
            "smiles": ["CCO", "CCN", "CCC", "CCCl", "CCBr", "CCS", "c1ccccc1", "C1CCCCC1"],
            "y": ["1", "inf", "1e400", "2", "-1", "0.0", "1.0", "0.5"],
        }
    )
    result = standardise(raw, ["y"], "classification", "t")
    reasons = dict(zip(result.rejected["row"], result.rejected["reason"], strict=True))
    assert reasons == {
        1: "label not finite in column 'y' (value 'inf')",
        2: "label not finite in column 'y' (value '1e400')",
        3: "class label not 0 or 1 in column 'y' (value '2')",
        4: "class label not 0 or 1 in column 'y' (value '-1')",
        7: "class label not 0 or 1 in column 'y' (value '0.5')",
    }
    assert result.table["y"].tolist() == [1.0, 0.0, 1.0]
    assert result.reasons["label not finite in column 'y'"] == 2
    assert result.reasons["class label not 0 or 1 in column 'y'"] == 3


def test_regression_labels_may_be_any_finite_number_but_not_infinite():
    raw = pd.DataFrame({"smiles": ["CCO", "CCN", "CCC"], "y": [2.5, -7.0, float("-inf")]})
    result = standardise(raw, ["y"], "regression", "t")
    assert result.table["y"].tolist() == [2.5, -7.0]
    assert result.rejected["reason"].tolist() == ["label not finite in column 'y' (value '-inf')"]


def test_whitespace_inside_a_smiles_rejects_the_row_instead_of_keeping_a_fragment():
    raw = pd.DataFrame({"smiles": ["C C(=O)N", "CC(=O) Nc1ccccc1", " CCO "], "y": [1, 0, 1]})
    result = standardise(raw, ["y"], "classification", "t")
    assert result.table["canonical_smiles"].tolist() == ["CCO"]
    assert result.rejected["row"].tolist() == [0, 1]
    assert result.reasons["whitespace inside the SMILES"] == 2


def test_authors_rows_are_kept_as_given_and_their_duplicates_counted():
    raw = pd.DataFrame(
        {
            "smiles": ["OCC", "CCO", "[Na+].CC(=O)[O-]", "C1CC", "CCO", "CC(=O)[O-]"],
            "y": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            "authors_set": ["train", "train", "train", "valid", "test", "test"],
        }
    )
    result = standardise(raw, ["y"], "regression", "t.authors", merge_duplicates=False)
    table = result.table
    assert table["smiles"].tolist() == ["OCC", "CCO", "[Na+].CC(=O)[O-]", "CCO", "CC(=O)[O-]"]
    assert table["y"].tolist() == [1.0, 2.0, 3.0, 5.0, 6.0]  # no mean over duplicates
    assert table["authors_set"].tolist() == ["train", "train", "train", "test", "test"]
    assert table["mol_id"].iloc[0] == "t.authors:0"
    assert result.rejected["row"].tolist() == [3]
    # OCC = CCO twice in train; the salt's largest fragment = CC(=O)[O-] in train and test
    assert result.counts["duplicates kept"] == 1
    assert result.counts["in several folds"] == 5
    assert result.counts["kept"] + result.counts["rejected"] == result.counts["raw"] == 6
