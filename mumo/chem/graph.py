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
from mumo.chem.record import (
    ATOM_FEATURE_DIMS,
    ATOMIC_NUMBER,
    BOND_FEATURE_DIMS,
    BOND_STEREO,
    BOND_TYPE,
    CHIRALITY,
    FORMAL_CHARGE,
    HYBRIDISATION,
    RADICAL_ELECTRONS,
    TOTAL_DEGREE,
    TOTAL_HS,
    bond_angle_graph,
    directed_edges,
)

_CHIRALITY = [getattr(Chem.ChiralType, name) for name in CHIRALITY]
_HYBRIDISATION = [getattr(Chem.HybridizationType, name) for name in HYBRIDISATION]
_BOND_TYPE = [getattr(Chem.BondType, name) for name in BOND_TYPE]
_BOND_STEREO = [getattr(Chem.BondStereo, name) for name in BOND_STEREO]


def _index(value, choices: list) -> int:
    """Position of `value` in `choices`, or the slot after them for anything else."""
    return choices.index(value) if value in choices else len(choices)


def _bounded(value: int, bounds: tuple[int, int]) -> int:
    """value - low for value in [low, high], else the misc slot high - low + 1."""
    low, high = bounds
    return value - low if low <= value <= high else high - low + 1


def atom_features(atom: Chem.Atom) -> list[int]:
    return [
        _bounded(atom.GetAtomicNum(), ATOMIC_NUMBER),
        _index(atom.GetChiralTag(), _CHIRALITY),
        _bounded(atom.GetTotalDegree(), TOTAL_DEGREE),
        _bounded(atom.GetFormalCharge(), FORMAL_CHARGE),
        _bounded(atom.GetTotalNumHs(), TOTAL_HS),
        _bounded(atom.GetNumRadicalElectrons(), RADICAL_ELECTRONS),
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


def build_record(mol: Chem.Mol, smiles: str, conformer: Conformer) -> dict:
    """Full graph, angle graph and fragment view of `mol` (built from `smiles`) at `conformer`'s coordinates."""
    bonds = np.array([(b.GetBeginAtomIdx(), b.GetEndAtomIdx()) for b in mol.GetBonds()], dtype=np.int64)
    bonds = bonds.reshape(-1, 2)
    bond_attr = np.array([bond_features(b) for b in mol.GetBonds()], dtype=np.int64).reshape(
        -1, len(BOND_FEATURE_DIMS)
    )
    pos = conformer.pos.astype(np.float32)
    pos64 = pos.astype(np.float64)
    edge_index = directed_edges(bonds)
    ba_edge_index, ba_angle = bond_angle_graph(edge_index, pos64)

    kept = ~brics_bond_mask(mol)
    frag_edge_index = directed_edges(bonds[kept])
    frag_ba_edge_index, frag_ba_angle = bond_angle_graph(frag_edge_index, pos64)
    return {
        "x": np.array([atom_features(a) for a in mol.GetAtoms()], dtype=np.int64).reshape(
            -1, len(ATOM_FEATURE_DIMS)
        ),
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
