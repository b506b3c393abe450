from __future__ import annotations

import numpy as np
import pytest
from rdkit import Chem
from rdkit.Chem import rdDistGeom, rdForceFieldHelpers

from mumo.chem.conformer import CONFORMER_SOURCES, ConformerConfig, generate_conformer
from mumo.chem.structure import featurize_canonical, parse_smiles


def _conformer(smiles: str, config: ConformerConfig):
    return generate_conformer(parse_smiles(smiles).mol, config)


def test_every_awkward_class_gets_its_outcome(awkward_case, fast_config):
    smiles, outcome, word = awkward_case
    parsed = parse_smiles(smiles)
    result = featurize_canonical(parsed.canonical, fast_config)
    assert result.outcome == outcome, result.reason
    assert word in result.reason
    assert result.record["pos"].shape == (parsed.mol.GetNumAtoms(), 3)
    assert np.isfinite(result.record["pos"]).all()


def test_invalid_smiles_are_rejected_with_rdkit_reason(invalid_case):
    smiles, reason = invalid_case
    parsed = parse_smiles(smiles)
    assert parsed.mol is None and parsed.canonical is None
    assert reason in parsed.reason


def test_plain_molecule_is_converged_mmff_without_hydrogens():
    conformer = _conformer("CCOC(=O)c1ccccc1", ConformerConfig())
    assert (conformer.source, conformer.reason) == ("mmff", "")
    assert conformer.pos.shape == (11, 3) and conformer.pos.dtype == np.float32
    assert np.ptp(conformer.pos[:, 2]) > 0.1  # really 3D


def test_not_converged_is_recorded():
    config = ConformerConfig(max_iters=1)
    assert _conformer("CCCCCCCCOC(=O)c1ccccc1", config).source == "mmff_not_converged"
    bortezomib = "CC(C)C[C@@H](NC(=O)[C@H](Cc1ccccc1)NC(=O)c1cnccn1)B(O)O"
    assert _conformer(bortezomib, config).source == "uff_not_converged"


def test_same_seed_same_coordinates_other_seed_other_coordinates():
    smiles = "CC(C)Cc1ccc(cc1)C(C)C(=O)O"
    first, again = _conformer(smiles, ConformerConfig(seed=7)), _conformer(smiles, ConformerConfig(seed=7))
    assert np.array_equal(first.pos, again.pos)
    assert not np.allclose(first.pos, _conformer(smiles, ConformerConfig(seed=8)).pos)


def test_several_conformers_keep_the_lowest_mmff_energy():
    smiles, config = "CCCCOCCCC(=O)N", ConformerConfig(num_conformers=4, seed=3)
    mol = parse_smiles(smiles).mol
    chosen = generate_conformer(mol, config)
    # The same steps by hand: the kept coordinates are those of the minimum-energy conformer.
    work = Chem.AddHs(mol)
    params = rdDistGeom.ETKDGv3()
    params.randomSeed = 3
    ids = list(rdDistGeom.EmbedMultipleConfs(work, 4, params))
    energies = [e for _, e in rdForceFieldHelpers.MMFFOptimizeMoleculeConfs(work, maxIters=2000)]
    assert len(set(np.round(energies, 4))) > 1  # the choice matters
    best = work.GetConformer(ids[int(np.argmin(energies))]).GetPositions()[: mol.GetNumAtoms()]
    np.testing.assert_allclose(chosen.pos, best, atol=1e-5)


def test_large_molecules_embed_without_hydrogens(monkeypatch):
    """At >= add_hs_below_heavy_atoms heavy atoms the paper embeds without explicit H."""
    added = []
    original = Chem.AddHs
    monkeypatch.setattr(Chem, "AddHs", lambda mol, *a, **k: added.append(mol.GetNumAtoms()) or original(mol))
    _conformer("CCCCCCCCCC", ConformerConfig(add_hs_below_heavy_atoms=10))
    _conformer("CCCCCCCCC", ConformerConfig(add_hs_below_heavy_atoms=10))
    assert added == [9]


def test_config_digest_tracks_every_setting():
    base = ConformerConfig()
    assert base.digest() == ConformerConfig().digest()
    changed = [ConformerConfig(seed=1), ConformerConfig(max_iters=200), ConformerConfig(timeout_s=5)]
    assert len({base.digest(), *(c.digest() for c in changed)}) == 4
    paper = ConformerConfig.paper()
    assert (paper.num_conformers, paper.max_iters, paper.add_hs_below_heavy_atoms, paper.max_atoms) == (
        10,
        200,
        50,
        400,
    )


def test_outcome_vocabulary():
    assert CONFORMER_SOURCES == (
        "mmff",
        "mmff_not_converged",
        "uff",
        "uff_not_converged",
        "etkdg_unoptimised",
        "2d_fallback",
    )


@pytest.mark.parametrize("smiles", ["C" * 401, "O1C2=CC=CC3=CC=C[N+](=C23)[Hg]14OC5=CC=CC6=CC=C[N+]4=C56"])
def test_fallback_is_flat_2d(smiles):
    conformer = _conformer(smiles, ConformerConfig())
    assert conformer.source == "2d_fallback"
    assert np.all(conformer.pos[:, 2] == 0)
