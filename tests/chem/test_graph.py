from __future__ import annotations

import math

import numpy as np
import pytest
from rdkit import Chem

from mumo.chem.conformer import ConformerConfig
from mumo.chem.fragments import brics_bond_mask
from mumo.chem.graph import atom_features, bond_features
from mumo.chem.record import ATOM_FEATURE_DIMS, BOND_FEATURE_DIMS, bond_angle_graph
from mumo.chem.structure import featurize_canonical, parse_smiles

RECORD_DTYPES = {
    "x": (np.int64, 2),
    "edge_index": (np.int64, 2),
    "edge_attr": (np.int64, 2),
    "ba_edge_index": (np.int64, 2),
    "ba_angle": (np.float32, 1),
    "frag_edge_index": (np.int64, 2),
    "frag_edge_attr": (np.int64, 2),
    "frag_ba_edge_index": (np.int64, 2),
    "frag_ba_angle": (np.float32, 1),
    "pos": (np.float32, 2),
    "frag_id": (np.int64, 1),
}
MOLECULES = [
    "CC(=O)Oc1ccccc1C(=O)O",
    "CC(C)(C)C",
    "C1CC2CCC1C2",
    "CCN(CC)C(=O)c1ccc2c(c1)OCO2",
    "O=C=O",
    "[Na+].[Cl-]",
    "C",
    "N.N.Cl[Pt]Cl",
]


def _record(smiles: str, config: ConformerConfig | None = None) -> dict:
    parsed = parse_smiles(smiles)
    return featurize_canonical(parsed.canonical, config or ConformerConfig()).record


def _angle_deg(record: dict, i: int, j: int, k: int) -> float:
    src, dst = record["edge_index"]
    (a,) = np.flatnonzero((src == i) & (dst == j))
    (b,) = np.flatnonzero((src == j) & (dst == k))
    (t,) = np.flatnonzero((record["ba_edge_index"][0] == a) & (record["ba_edge_index"][1] == b))
    return math.degrees(record["ba_angle"][t])


def test_feature_dimensions_are_the_models():
    assert ATOM_FEATURE_DIMS == (119, 5, 12, 12, 10, 6, 6, 2, 2)
    assert BOND_FEATURE_DIMS == (5, 6, 2)


def test_unknown_values_take_the_last_slot():
    dummy = Chem.MolFromSmiles("*C").GetAtomWithIdx(0)
    assert atom_features(dummy)[0] == 118
    iron = Chem.MolFromSmiles("[Fe+6]").GetAtomWithIdx(0)
    assert atom_features(iron)[3] == 11  # charge +6 is outside -5..+5
    sodium = Chem.MolFromSmiles("[Na+]").GetAtomWithIdx(0)
    assert atom_features(sodium)[6] == 5  # hybridisation S / unspecified: misc
    carbon = Chem.MolFromSmiles("[CH4]").GetAtomWithIdx(0)
    assert atom_features(carbon) == [5, 0, 4, 5, 4, 0, 2, 0, 0]
    square_planar = Chem.MolFromSmiles("F[Pt@SP1](Cl)(Br)I").GetAtomWithIdx(1)
    assert atom_features(square_planar)[1] == 4  # not one of the paper's four chirality kinds: misc
    assert atom_features(Chem.MolFromSmiles("C[C@H](N)O").GetAtomWithIdx(1))[1] in (1, 2)
    bond = Chem.MolFromSmiles("F/C=C/F").GetBondWithIdx(1)
    assert bond_features(bond) == [1, 2, 0]  # double, E, not conjugated
    assert bond_features(Chem.MolFromSmiles("c1ccccc1").GetBondWithIdx(0)) == [3, 0, 1]
    assert bond_features(Chem.MolFromSmiles("C~C", sanitize=False).GetBondWithIdx(0))[0] == 4


@pytest.mark.parametrize("smiles", MOLECULES)
def test_record_contract_and_invariants(smiles: str):
    record = _record(smiles)
    mol = Chem.MolFromSmiles(record["smiles"])
    n, k = mol.GetNumAtoms(), mol.GetNumBonds()
    for key, (dtype, ndim) in RECORD_DTYPES.items():
        assert record[key].dtype == dtype and record[key].ndim == ndim, key
    assert record["x"].shape == (n, 9) and record["pos"].shape == (n, 3)
    assert ((record["x"] >= 0) & (record["x"] < np.array(ATOM_FEATURE_DIMS))).all()
    assert ((record["edge_attr"] >= 0) & (record["edge_attr"] < np.array(BOND_FEATURE_DIMS))).all()

    # Two directed edges per bond, in RDKit bond order, i->j then j->i, with the bond's features.
    edge_index = record["edge_index"]
    assert edge_index.shape == (2, 2 * k) and record["edge_attr"].shape == (2 * k, 3)
    for bond in mol.GetBonds():
        b, i, j = bond.GetIdx(), bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
        assert edge_index[:, 2 * b].tolist() == [i, j] and edge_index[:, 2 * b + 1].tolist() == [j, i]
        assert (
            record["edge_attr"][2 * b].tolist()
            == record["edge_attr"][2 * b + 1].tolist()
            == bond_features(bond)
        )

    # Angle graph: sum_j deg(j)(deg(j)-1) edges, each i->j followed by j->k with k != i, angle in [0, pi].
    degrees = np.array([atom.GetDegree() for atom in mol.GetAtoms()])
    ba, angle = record["ba_edge_index"], record["ba_angle"]
    assert ba.shape == (2, int((degrees * (degrees - 1)).sum())) and angle.shape == (ba.shape[1],)
    src, dst = edge_index
    assert (dst[ba[0]] == src[ba[1]]).all() and (src[ba[0]] != dst[ba[1]]).all()
    assert ((angle >= 0) & (angle <= np.pi)).all()
    # (i, j, k) and (k, j, i) both occur, with one angle.
    triples = {(src[a], dst[a], dst[b]): t for a, b, t in zip(ba[0], ba[1], angle, strict=True)}
    assert all(math.isclose(t, triples[(k_, j, i)], abs_tol=1e-6) for (i, j, k_), t in triples.items())

    # Angles agree with the stored coordinates.
    pos = record["pos"].astype(np.float64)
    for (i, j, k_), t in list(triples.items())[:20]:
        u, v = pos[i] - pos[j], pos[k_] - pos[j]
        assert math.isclose(
            t, math.acos(np.clip(u @ v / np.linalg.norm(u) / np.linalg.norm(v), -1, 1)), abs_tol=1e-5
        )


def test_known_angles():
    assert math.isclose(_angle_deg(_record("O=C=O"), 0, 1, 2), 180.0, abs_tol=1.0)
    ether = _record("COC")
    assert 104 < _angle_deg(ether, 0, 1, 2) < 115
    neopentane = _record("CC(C)(C)C")
    assert all(abs(_angle_deg(neopentane, i, 1, k) - 109.47) < 2 for i, k in [(0, 2), (0, 3), (2, 4)])
    benzene = _record("c1ccccc1")
    assert abs(_angle_deg(benzene, 0, 1, 2) - 120) < 1


def test_bond_angle_graph_handles_no_bonds():
    index, angle = bond_angle_graph(np.zeros((2, 0), dtype=np.int64), np.zeros((1, 3)))
    assert (
        index.shape == (2, 0)
        and index.dtype == np.int64
        and angle.shape == (0,)
        and angle.dtype == np.float32
    )


def test_fragment_view_without_brics_bonds_equals_full_graph():
    record = _record("c1ccc2ccccc2c1")
    for key in ("edge_index", "edge_attr", "ba_edge_index", "ba_angle"):
        np.testing.assert_array_equal(record[f"frag_{key}"], record[key])
    assert (record["frag_id"] == 0).all()


def test_fragment_view_drops_brics_bonds_only():
    record = _record("CCN(CC)C(=O)c1ccc2c(c1)OCO2")
    mol = Chem.MolFromSmiles(record["smiles"])
    cut = brics_bond_mask(mol)
    assert cut.any()
    kept_bonds = [b for b in mol.GetBonds() if not cut[b.GetIdx()]]
    expected = [[b.GetBeginAtomIdx(), b.GetEndAtomIdx()] for b in kept_bonds]
    assert record["frag_edge_index"][:, ::2].T.tolist() == expected
    assert record["frag_edge_index"].shape[1] == record["edge_index"].shape[1] - 2 * int(cut.sum())
    # Its own angle graph over the remaining bonds, same coordinates.
    expected_index, expected_angle = bond_angle_graph(
        record["frag_edge_index"], record["pos"].astype(np.float64)
    )
    np.testing.assert_array_equal(record["frag_ba_edge_index"], expected_index)
    np.testing.assert_array_equal(record["frag_ba_angle"], expected_angle)
    # One fragment id per connected part; ids numbered from the lowest atom index; no bond kept across parts.
    frag_id = record["frag_id"]
    assert frag_id[0] == 0 and frag_id.max() + 1 == int(cut.sum()) + 1
    src, dst = record["frag_edge_index"]
    assert (frag_id[src] == frag_id[dst]).all()
    for b in np.flatnonzero(cut):
        bond = mol.GetBondWithIdx(int(b))
        assert frag_id[bond.GetBeginAtomIdx()] != frag_id[bond.GetEndAtomIdx()]


def test_graph_is_built_from_the_canonical_string():
    record = _record("OC(=O)c1ccccc1OC(C)=O")  # aspirin written another way
    assert record["smiles"] == Chem.MolToSmiles(Chem.MolFromSmiles("CC(=O)Oc1ccccc1C(=O)O"))
    mol = Chem.MolFromSmiles(record["smiles"])
    assert record["x"][:, 0].tolist() == [a.GetAtomicNum() - 1 for a in mol.GetAtoms()]
