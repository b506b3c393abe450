"""Random structure records for tests and benchmarks: small connected graphs, coordinates and true bond angles.

They follow the record contract of `mumo.model.batch` (not chemistry): random feature indices within
ATOM_FEATURE_DIMS / BOND_FEATURE_DIMS, a random tree plus ring closures, every third bond cut for the
"fragment" view, and angles computed from the coordinates so that rigid-motion tests are meaningful.
"""

from __future__ import annotations

import numpy as np

from mumo.model.batch import ATOM_FEATURE_DIMS, BOND_FEATURE_DIMS, MolBatch, collate

VOCAB = 2364  # the paper's vocabulary size


def bond_angles(pos: np.ndarray, edge_index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bond-angle graph: an edge from bond i→j to bond j→k (k ≠ i) with θ_ijk at centre j, in radians."""
    src, dst = edge_index
    pairs, angles = [], []
    for b1 in range(len(src)):
        i, j = src[b1], dst[b1]
        for b2 in np.flatnonzero((src == j) & (dst != i)):
            u, v = pos[i] - pos[j], pos[dst[b2]] - pos[j]
            pairs.append((b1, b2))
            cos = u @ v / (np.linalg.norm(u) * np.linalg.norm(v))
            angles.append(np.arccos(np.clip(cos, -1.0, 1.0)))
    index = np.asarray(pairs, dtype=np.int64).reshape(-1, 2).T
    return index, np.asarray(angles, dtype=np.float32)


def directed(bonds: list[tuple[int, int]]) -> np.ndarray:
    """Each bond i–j as i→j then j→i, in bond order."""
    return np.asarray([e for i, j in bonds for e in ((i, j), (j, i))], dtype=np.int64).reshape(-1, 2).T


def synthetic_record(
    rng: np.random.Generator, n_atoms: int, pos: np.ndarray | None = None, bonds: list | None = None
) -> dict:
    """A random connected graph (tree + a ring closure or two); about a third of the bonds cut for the fragments."""
    if bonds is None:
        bonds = [(int(rng.integers(i)), i) for i in range(1, n_atoms)]
        bonds += [(i, j) for i, j in rng.integers(n_atoms, size=(2, 2)) if i < j - 1 and (i, j) not in bonds]
    pos = rng.normal(scale=1.5, size=(n_atoms, 3)) if pos is None else pos
    bond_attr = np.stack([rng.integers(n, size=len(bonds)) for n in BOND_FEATURE_DIMS], axis=1)
    kept = [k for k in range(len(bonds)) if k % 3 != 2]  # the "BRICS" cut
    record = {
        "x": np.stack([rng.integers(n, size=n_atoms) for n in ATOM_FEATURE_DIMS], axis=1),
        "pos": pos.astype(np.float32),
        "bonds": bonds,
    }
    for prefix, keep in (("", range(len(bonds))), ("frag_", kept)):
        edge_index = directed([bonds[k] for k in keep])
        ba_index, ba_angle = bond_angles(pos, edge_index)
        record[prefix + "edge_index"] = edge_index
        record[prefix + "edge_attr"] = np.repeat(bond_attr[list(keep)], 2, axis=0).reshape(-1, 3)
        record[prefix + "ba_edge_index"] = ba_index
        record[prefix + "ba_angle"] = ba_angle
    return record


def synthetic_tokens(rng: np.random.Generator, length: int) -> list[int]:
    """[CLS] random non-special ids [SEP]."""
    return [1, *rng.integers(4, VOCAB - 3, size=length - 2).tolist(), 3]


def synthetic_batch(rng: np.random.Generator, batch_size: int, length: int, n_atoms: int) -> MolBatch:
    """`batch_size` molecules of `length` tokens and `n_atoms` atoms each, with random regression labels."""
    return collate(
        [synthetic_tokens(rng, length) for _ in range(batch_size)],
        [synthetic_record(rng, n_atoms) for _ in range(batch_size)],
        labels=rng.normal(size=batch_size),
    )
