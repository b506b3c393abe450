import pytest

from mumo.chem.structure import canonical_smiles, parse_smiles


@pytest.mark.parametrize("smiles", ["C C(=O)N", "CC(=O) Nc1ccccc1", "CC\tO", "CC\nO"])
def test_whitespace_inside_a_smiles_is_a_rejection_not_a_truncation(smiles):
    parsed = parse_smiles(smiles)
    assert parsed.mol is None and parsed.canonical is None
    assert "whitespace inside the SMILES" in parsed.reason
    assert canonical_smiles(smiles) is None


@pytest.mark.parametrize("smiles", [" CC(=O)Nc1ccccc1", "CC(=O)Nc1ccccc1 ", "\tCC(=O)Nc1ccccc1\n"])
def test_whitespace_at_the_ends_is_stripped(smiles):
    assert parse_smiles(smiles).canonical == "CC(=O)Nc1ccccc1"
