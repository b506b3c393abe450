"""The structure record's vocabularies and geometry without RDKit: the one definition chem and model share.

`mumo.chem.graph` featurises molecules with these choice lists and ranges; `mumo.model` sizes its embeddings
from the cardinalities derived here and `mumo.model.synthetic` draws test graphs with the same geometry code.
Keeping them in one RDKit-free module lets the model import them without loading RDKit (docs/model.md §1.2-1.5).
Choices are RDKit enum names, resolved to enum members by `mumo.chem.graph`.
"""

from __future__ import annotations

import numpy as np

# Atom features in record order. A range (low, high) maps value v to v - low and anything outside to one
# "misc" slot after it; a choice list maps a member to its position and anything else to the slot after it.
ATOMIC_NUMBER = (1, 118)  # misc includes the dummy atom *
CHIRALITY = ("CHI_UNSPECIFIED", "CHI_TETRAHEDRAL_CW", "CHI_TETRAHEDRAL_CCW", "CHI_OTHER")
TOTAL_DEGREE = (0, 10)
FORMAL_CHARGE = (-5, 5)
TOTAL_HS = (0, 8)
RADICAL_ELECTRONS = (0, 4)
HYBRIDISATION = ("SP", "SP2", "SP3", "SP3D", "SP3D2")
# then two booleans: aromatic, in ring

# Bond features: type (choice list + misc), stereo (no misc slot: unknown kinds share the last one, "any"),
# then one boolean: conjugated.
BOND_TYPE = ("SINGLE", "DOUBLE", "TRIPLE", "AROMATIC")
BOND_STEREO = ("STEREONONE", "STEREOZ", "STEREOE", "STEREOCIS", "STEREOTRANS", "STEREOANY")


def _range_size(bounds: tuple[int, int]) -> int:
    return bounds[1] - bounds[0] + 2


#: Cardinality of each atom feature index: (119, 5, 12, 12, 10, 6, 6, 2, 2).
ATOM_FEATURE_DIMS: tuple[int, ...] = (
    _range_size(ATOMIC_NUMBER),
    len(CHIRALITY) + 1,
    _range_size(TOTAL_DEGREE),
    _range_size(FORMAL_CHARGE),
    _range_size(TOTAL_HS),
    _range_size(RADICAL_ELECTRONS),
    len(HYBRIDISATION) + 1,
    2,
    2,
)
#: Cardinality of each bond feature index: (5, 6, 2).
BOND_FEATURE_DIMS: tuple[int, ...] = (len(BOND_TYPE) + 1, len(BOND_STEREO), 2)


def directed_edges(bonds: np.ndarray) -> np.ndarray:
    """[2, e] directed edges from [k, 2] bonds: i->j then j->i, bond by bond."""
    bonds = np.asarray(bonds, dtype=np.int64).reshape(-1, 2)
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
