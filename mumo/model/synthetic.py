"""Random structure records for tests and benchmarks: small connected graphs, coordinates and true bond angles.

They follow the record contract of `mumo.chem.record` (not chemistry): random feature indices within
ATOM_FEATURE_DIMS / BOND_FEATURE_DIMS, a random tree plus ring closures, every third bond cut for the
"fragment" view, and the structure stage's own edge and bond-angle code on random coordinates, so that
rigid-motion tests are meaningful and graph sizes are free (no RDKit needed).
"""

from __future__ import annotations

import numpy as np

from mumo.chem.record import ATOM_FEATURE_DIMS, BOND_FEATURE_DIMS, bond_angle_graph, directed_edges
from mumo.chem.tokenizer import CLS_ID, LEADING_SPECIALS, SEP_ID, TRAILING_SPECIALS
from mumo.model.batch import MolBatch, collate
from mumo.model.config import MuMoConfig

VOCAB = MuMoConfig.vocab_size  # the paper's vocabulary size


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
        edge_index = directed_edges(np.asarray([bonds[k] for k in keep]))
        ba_index, ba_angle = bond_angle_graph(edge_index, pos)
        record[prefix + "edge_index"] = edge_index
        record[prefix + "edge_attr"] = np.repeat(bond_attr[list(keep)], 2, axis=0)
        record[prefix + "ba_edge_index"] = ba_index
        record[prefix + "ba_angle"] = ba_angle
    return record


def synthetic_tokens(rng: np.random.Generator, length: int) -> list[int]:
    """[CLS] random non-special ids [SEP]."""
    ordinary = rng.integers(len(LEADING_SPECIALS), VOCAB - len(TRAILING_SPECIALS), size=length - 2)
    return [CLS_ID, *ordinary.tolist(), SEP_ID]


def synthetic_batch(rng: np.random.Generator, batch_size: int, length: int, n_atoms: int) -> MolBatch:
    """`batch_size` molecules of `length` tokens and `n_atoms` atoms each, with random regression labels."""
    return collate(
        [synthetic_tokens(rng, length) for _ in range(batch_size)],
        [synthetic_record(rng, n_atoms) for _ in range(batch_size)],
        labels=rng.normal(size=batch_size),
    )
