from __future__ import annotations

import itertools
import time

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
    changed = [ConformerConfig(seed=1), ConformerConfig(max_iters=200), ConformerConfig(max_embed_attempts=5)]
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


def test_outcome_does_not_depend_on_the_wall_clock(monkeypatch, fast_config, awkward_smiles):
    """A clock that jumps 1,000 s per reading (a machine under any load) changes no outcome and no coordinate,
    and RDKit runs without its own timeout: the only bound is the count of attempts."""
    hard = [
        awkward_smiles[name]
        for name in ("vancomycin_over_attempts", "mercury_needs_ignore_smoothing", "drug")
    ]
    idle = [_conformer(smiles, fast_config) for smiles in hard]
    seen = []
    embed = rdDistGeom.EmbedMultipleConfs
    monkeypatch.setattr(
        rdDistGeom,
        "EmbedMultipleConfs",
        lambda mol, n, params: seen.append((params.timeout, params.maxIterations)) or embed(mol, n, params),
    )
    ticks = itertools.count(step=1000.0)
    monkeypatch.setattr(time, "monotonic", lambda: next(ticks))
    loaded = [_conformer(smiles, fast_config) for smiles in hard]
    assert [c.source for c in idle] == ["2d_fallback", "uff", "mmff"]
    for before, after in zip(idle, loaded, strict=True):
        assert (after.source, after.reason) == (before.source, before.reason)
        assert np.array_equal(after.pos, before.pos)
    assert set(seen) == {(0, fast_config.max_embed_attempts)}


def test_exhausted_attempts_are_named_in_the_reason(fast_config, awkward_smiles):
    conformer = _conformer(awkward_smiles["vancomycin_over_attempts"], fast_config)
    assert conformer.source == "2d_fallback"
    assert conformer.reason == (
        "etkdg embedding gave up after 3 attempts; random coordinates embedding gave up after 3 attempts; "
        "ignoreSmoothingFailures not tried (the distance bounds smoothed)"
    )


def test_settings_from_a_dict_refuse_unknown_and_removed_keys():
    assert ConformerConfig.from_dict({"max_embed_attempts": 7}, "x") == ConformerConfig(max_embed_attempts=7)
    with pytest.raises(
        ValueError,
        match=r"^config\.yaml: unknown conformer setting 'timeout_s' \(removed: .*max_embed_attempts",
    ):
        ConformerConfig.from_dict({"seed": 1, "timeout_s": 10}, "config.yaml")
    with pytest.raises(ValueError, match=r"unknown conformer setting 'seeds' \(known: seed, "):
        ConformerConfig.from_dict({"seeds": 1}, "--conformer")
