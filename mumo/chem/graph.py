"""Atom-bond graph, bond-angle graph and BRICS fragment view of one molecule (docs/model.md §1.2-1.5).

`build_record` derives everything the model needs from one molecule and its conformer in a single pass.
Record (agreed with the model code; keys and dtypes are a contract):

    x                 int64   [n, 9]   atom feature indices (ATOM_FEATURE_DIMS)
    edge_index        int64   [2, e]   directed bonds, bond b gives columns 2b (i->j) and 2b+1 (j->i)
    edge_attr         int64   [e, 3]   bond feature indices (BOND_FEATURE_DIMS)
    ba_edge_index     int64   [2, t]   bond-angle graph: column (a, b) links bond a = i->j to bond b = j->k
    ba_angle          float32 [t]      theta_ijk in radians, in [0, pi]
    frag_edge_index, frag_edge_attr, frag_ba_edge_index, frag_ba_angle: the same for the fragment view
    pos               float32 [n, 3]   conformer coordinates (angstrom; z = 0 for 2d_fallback)
    frag_id           int64   [n]      BRICS fragment of each atom (analysis only)
    smiles            str              canonical SMILES: the string that is tokenised and that built the graph
    conformer_source  str              one of CONFORMER_SOURCES
    reason            str              why the conformer is not plain "mmff" ("" when it is)
"""

from __future__ import annotations

import numpy as np
from rdkit import Chem

from mumo.chem.conformer import Conformer
from mumo.chem.fragments import brics_bond_mask, fragment_ids

_CHIRALITY = [
    Chem.ChiralType.CHI_UNSPECIFIED,
    Chem.ChiralType.CHI_TETRAHEDRAL_CW,
    Chem.ChiralType.CHI_TETRAHEDRAL_CCW,
    Chem.ChiralType.CHI_OTHER,
]
_HYBRIDISATION = [
    Chem.HybridizationType.SP,
    Chem.HybridizationType.SP2,
    Chem.HybridizationType.SP3,
    Chem.HybridizationType.SP3D,
    Chem.HybridizationType.SP3D2,
]
_BOND_TYPE = [Chem.BondType.SINGLE, Chem.BondType.DOUBLE, Chem.BondType.TRIPLE, Chem.BondType.AROMATIC]
_BOND_STEREO = [
    Chem.BondStereo.STEREONONE,
    Chem.BondStereo.STEREOZ,
    Chem.BondStereo.STEREOE,
    Chem.BondStereo.STEREOCIS,
    Chem.BondStereo.STEREOTRANS,
    Chem.BondStereo.STEREOANY,
]

# Cardinality of each atom / bond feature; the last index of each is the "misc"/unknown slot.
ATOM_FEATURE_DIMS = (
    119,  # atomic number 1-118 as Z-1, misc (includes the dummy atom *)
    len(_CHIRALITY) + 1,  # 5
    12,  # total degree 0-10, misc
    12,  # formal charge -5..+5, misc
    10,  # total H 0-8, misc
    6,  # radical electrons 0-4, misc
    len(_HYBRIDISATION) + 1,  # 6
    2,  # aromatic
    2,  # in ring
)
BOND_FEATURE_DIMS = (len(_BOND_TYPE) + 1, len(_BOND_STEREO), 2)  # type+misc 5, stereo 6, conjugated 2


def _index(value, choices: list) -> int:
    """Position of `value` in `choices`, or the slot after them for anything else."""
    return choices.index(value) if value in choices else len(choices)


def _bounded(value: int, low: int, high: int) -> int:
    """value - low for value in [low, high], else the misc slot high - low + 1."""
    return value - low if low <= value <= high else high - low + 1


def atom_features(atom: Chem.Atom) -> list[int]:
    return [
        _bounded(atom.GetAtomicNum(), 1, 118),
        _index(atom.GetChiralTag(), _CHIRALITY),
        _bounded(atom.GetTotalDegree(), 0, 10),
        _bounded(atom.GetFormalCharge(), -5, 5),
        _bounded(atom.GetTotalNumHs(), 0, 8),
        _bounded(atom.GetNumRadicalElectrons(), 0, 4),
        _index(atom.GetHybridization(), _HYBRIDISATION),
        int(atom.GetIsAromatic()),
        int(atom.IsInRing()),
    ]


def bond_features(bond: Chem.Bond) -> list[int]:
    # Stereo has no misc slot in the paper; newer RDKit stereo kinds (atropisomers) share the last one, "any".
    return [
        _index(bond.GetBondType(), _BOND_TYPE),
        min(_index(bond.GetStereo(), _BOND_STEREO), len(_BOND_STEREO) - 1),
        int(bond.GetIsConjugated()),
    ]


def directed_edges(bonds: np.ndarray) -> np.ndarray:
    """[2, e] directed edges from [k, 2] bonds: i->j then j->i, bond by bond."""
    return np.stack([bonds, bonds[:, ::-1]], axis=1).reshape(-1, 2).T.copy()


def bond_angle_graph(edge_index: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bond-angle graph over directed bonds: one edge a -> b per bond a = i->j, b = j->k with k != i.

    Returns (ba_edge_index int64 [2, t], ba_angle float32 [t]) with t = sum_j deg(j) (deg(j) - 1); edges
    are ordered by a, then by b.
    """
    src, dst = edge_index
    # All pairs (a, b) with dst[a] == src[b], via edges sorted by source atom.
    order = np.argsort(src, kind="stable")
    starts = np.searchsorted(src[order], dst)
    counts = np.searchsorted(src[order], dst, side="right") - starts
    a = np.repeat(np.arange(len(src)), counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    b = order[np.repeat(starts, counts) + offsets]
    keep = dst[b] != src[a]
    a, b = a[keep], b[keep]
    u = pos[src[a]] - pos[dst[a]]  # p_i - p_j
    v = pos[dst[b]] - pos[src[b]]  # p_k - p_j
    norms = np.linalg.norm(u, axis=1) * np.linalg.norm(v, axis=1)
    cosine = np.einsum("ij,ij->i", u, v) / np.maximum(norms, 1e-12)
    angle = np.arccos(np.clip(cosine, -1.0, 1.0)).astype(np.float32)
    return np.stack([a, b]).astype(np.int64), angle


def build_record(mol: Chem.Mol, smiles: str, conformer: Conformer) -> dict:
    """Full graph, angle graph and fragment view of `mol` (built from `smiles`) at `conformer`'s coordinates."""
    bonds = np.array([(b.GetBeginAtomIdx(), b.GetEndAtomIdx()) for b in mol.GetBonds()], dtype=np.int64)
    bonds = bonds.reshape(-1, 2)
    bond_attr = np.array([bond_features(b) for b in mol.GetBonds()], dtype=np.int64).reshape(-1, 3)
    pos = conformer.pos.astype(np.float32)
    pos64 = pos.astype(np.float64)
    edge_index = directed_edges(bonds)
    ba_edge_index, ba_angle = bond_angle_graph(edge_index, pos64)

    kept = ~brics_bond_mask(mol)
    frag_edge_index = directed_edges(bonds[kept])
    frag_ba_edge_index, frag_ba_angle = bond_angle_graph(frag_edge_index, pos64)
    return {
        "x": np.array([atom_features(a) for a in mol.GetAtoms()], dtype=np.int64).reshape(-1, 9),
        "edge_index": edge_index,
        "edge_attr": np.repeat(bond_attr, 2, axis=0),
        "ba_edge_index": ba_edge_index,
        "ba_angle": ba_angle,
        "frag_edge_index": frag_edge_index,
        "frag_edge_attr": np.repeat(bond_attr[kept], 2, axis=0),
        "frag_ba_edge_index": frag_ba_edge_index,
        "frag_ba_angle": frag_ba_angle,
        "pos": pos,
        "frag_id": fragment_ids(mol.GetNumAtoms(), bonds[kept].T),
        "smiles": smiles,
        "conformer_source": conformer.source,
        "reason": conformer.reason,
    }
