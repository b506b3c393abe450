"""BRICS fragment view (docs/model.md §1.4): which bonds BRICS would cut, and the fragment each atom falls in."""

from __future__ import annotations

import numpy as np
from rdkit import Chem
from rdkit.Chem import BRICS
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


def brics_bond_mask(mol: Chem.Mol) -> np.ndarray:
    """Boolean [n_bonds] mask, True for bonds that BRICS breaks."""
    mask = np.zeros(mol.GetNumBonds(), dtype=bool)
    for (i, j), _labels in BRICS.FindBRICSBonds(mol):
        mask[mol.GetBondBetweenAtoms(i, j).GetIdx()] = True
    return mask


def fragment_ids(num_atoms: int, bonds: np.ndarray) -> np.ndarray:
    """Connected-component id per atom over `bonds` [2, k]; ids follow the lowest atom index of each part."""
    adjacency = coo_matrix((np.ones(bonds.shape[1]), (bonds[0], bonds[1])), shape=(num_atoms, num_atoms))
    return connected_components(adjacency, directed=False)[1].astype(np.int64)
