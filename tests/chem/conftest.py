"""Molecules for the structure-stage tests: one or more per class of awkward input, with its expected outcome."""

from __future__ import annotations

import pytest

from mumo.chem.conformer import ConformerConfig

VANCOMYCIN = (
    "C[C@H]1[C@H]([C@@](C[C@@H](O1)O[C@@H]2[C@H]([C@@H]([C@H](O[C@H]2OC3=C4C=C5C=C3OC6=C(C=C(C=C6)[C@H]([C@H]"
    "(C(=O)N[C@H](C(=O)N[C@H]5C(=O)N[C@@H]7C8=CC(=C(C=C8)O)C9=C(C=C(C=C9O)O)[C@H](NC(=O)[C@H]([C@@H](C1=CC(="
    "C(O4)C=C1)Cl)O)NC7=O)C(=O)O)CC(=O)N)NC(=O)[C@@H](CC(C)C)NC)O)Cl)CO)O)O)(C)N)O"
)

# name -> (SMILES, expected outcome under FAST_CONFIG, a word expected in the reason or "")
AWKWARD = {
    "drug": ("CC(=O)Oc1ccccc1C(=O)O", "mmff", ""),
    "stereo": ("C[C@H](N)C(=O)O", "mmff", ""),
    "double_bond_stereo": ("F/C=C/Cl", "mmff", ""),
    "isotopes": ("[2H]C([2H])([2H])[13C](=O)O", "mmff", ""),
    "explicit_hydrogens": ("[H]OC([H])([H])[H]", "mmff", ""),
    "charged": ("C[N+](C)(C)CC(=O)[O-]", "mmff", ""),
    "salt": ("CC(=O)[O-].[Na+]", "mmff", ""),
    "mixture": ("CCO.O.c1ccccc1", "mmff", ""),
    "ferrocene_ions": ("[Fe+2].c1cc[cH-]c1.c1cc[cH-]c1", "mmff", ""),
    "boron_bortezomib": ("CC(C)C[C@@H](NC(=O)[C@H](Cc1ccccc1)NC(=O)c1cnccn1)B(O)O", "uff", "no MMFF"),
    "mercury_organometal": ("CC[Hg]Sc1ccccc1C(=O)[O-].[Na+]", "uff", "no MMFF"),
    "mercury_needs_ignore_smoothing": (
        "O1N(N=[O+][Hg]12ON(N=[O+]2)C3=CC=CC=C3)C4=CC=CC=C4",
        "uff",
        "ignoreSmoothingFailures",
    ),
    "mercury_invariant_violation": (
        "O1C2=CC=CC3=CC=C[N+](=C23)[Hg]14OC5=CC=CC6=CC=C[N+]4=C56",
        "2d_fallback",
        "Invariant Violation",
    ),
    "cisplatin": ("N.N.Cl[Pt]Cl", "etkdg_unoptimised", "no MMFF or UFF"),
    "dummy_atom": ("*C(=O)CC", "etkdg_unoptimised", "no MMFF or UFF"),
    "too_many_atoms": ("C" * 401, "2d_fallback", "max_atoms"),
    "vancomycin_over_attempts": (VANCOMYCIN, "2d_fallback", "gave up after 3 attempts"),
}

INVALID = {
    "empty": ("", "empty SMILES"),
    "blank": ("   ", "empty SMILES"),
    "unclosed_ring": ("C1CC", "unclosed ring"),
    "syntax": ("C(C", "Parse Error"),
    "valence": ("N(C)(C)(C)(C)C", "valence"),
    "kekulize": ("c1cccc1", "kekulize"),
}


@pytest.fixture
def fast_config() -> ConformerConfig:
    """Default settings with 3 ETKDG attempts per strategy: vancomycin (no H above 50 atoms) needs more, falls back."""
    return ConformerConfig(max_embed_attempts=3)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """`awkward_case` / `invalid_case` arguments run a test once per molecule above."""
    for name, cases in (("awkward_case", AWKWARD), ("invalid_case", INVALID)):
        if name in metafunc.fixturenames:
            metafunc.parametrize(name, list(cases.values()), ids=list(cases))


@pytest.fixture
def awkward_smiles() -> dict[str, str]:
    return {name: smiles for name, (smiles, *_rest) in AWKWARD.items()}


@pytest.fixture
def invalid_smiles() -> dict[str, str]:
    return {name: smiles for name, (smiles, _reason) in INVALID.items()}
