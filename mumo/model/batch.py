"""The model's input: padded SMILES tokens plus the molecules' graphs concatenated with index offsets.

A structure record (one molecule, from `mumo.chem`) is a dict of numpy arrays (docs/model.md §1.5)::

    x                  int64   [n, 9]   atom feature indices (ATOM_FEATURE_DIMS)
    edge_index         int64   [2, e]   directed bonds, each bond i→j then j→i
    edge_attr          int64   [e, 3]   bond feature indices (BOND_FEATURE_DIMS)
    ba_edge_index      int64   [2, t]   bond–angle graph: bond i→j  →  bond j→k (indices into the e bonds)
    ba_angle           float32 [t]      θ_ijk in radians ([t, 1] is accepted too)
    frag_*                              the same four for the BRICS fragment view

(`pos`, `conformer_source` and anything else in a record are ignored here.)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

# Defined once by the structure stage; re-exported here because they are the model's input contract too.
from mumo.chem.record import ATOM_FEATURE_DIMS, BOND_FEATURE_DIMS
from mumo.chem.tokenizer import MASK_ID, PAD_ID, special_token_ids

__all__ = [
    "ATOM_FEATURE_DIMS",
    "BOND_FEATURE_DIMS",
    "MASK_ID",
    "PAD_ID",
    "MolBatch",
    "collate",
    "special_token_ids",
]

_GRAPH_KEYS = ("edge_index", "edge_attr", "ba_edge_index", "ba_angle")


@dataclass(frozen=True)
class MolBatch:
    """B molecules: tokens padded on the right, graphs concatenated (N atoms, E bonds, T angles in all).

    Index tensors already carry their offsets: atoms for `edge_index`/`frag_edge_index`, the batch's bonds for
    `ba_edge_index`, its fragment bonds for `frag_ba_edge_index`. Frozen: the model never changes a batch.
    """

    tokens: Tensor  # [B, L] long
    token_mask: Tensor  # [B, L] bool, True on real tokens
    x: Tensor  # [N, 9] long
    edge_index: Tensor  # [2, E] long
    edge_attr: Tensor  # [E, 3] long
    ba_edge_index: Tensor  # [2, T] long
    ba_angle: Tensor  # [T] float32
    frag_edge_index: Tensor  # [2, E_f] long
    frag_edge_attr: Tensor  # [E_f, 3] long
    frag_ba_edge_index: Tensor  # [2, T_f] long
    frag_ba_angle: Tensor  # [T_f] float32
    atom_batch: Tensor  # [N] long, molecule of each atom
    atom_pos: Tensor  # [N] long, position of each atom inside its molecule
    num_atoms: Tensor  # [B] long
    max_atoms: int  # n_max, kept as a Python int so that packing needs no device sync
    labels: Tensor | None = None  # [B] or [B, T] float, NaN where missing

    @property
    def batch_size(self) -> int:
        return self.tokens.shape[0]

    @property
    def label_mask(self) -> Tensor | None:
        """True where a label is present."""
        return None if self.labels is None else ~torch.isnan(self.labels)

    def to(self, device: torch.device | str, non_blocking: bool = False) -> MolBatch:
        moved = {
            f.name: getattr(self, f.name).to(device, non_blocking=non_blocking)
            for f in dataclasses.fields(self)
            if isinstance(getattr(self, f.name), Tensor)
        }
        return dataclasses.replace(self, **moved)


def _concat(records: Sequence[dict], key: str, offsets: np.ndarray | None, width: int, dtype) -> Tensor:
    """Concatenate one array over molecules, adding each molecule's offset (index arrays of shape [2, k])."""
    arrays = [np.asarray(r[key], dtype=dtype) for r in records]
    if key.endswith("angle"):
        arrays = [a.reshape(-1) for a in arrays]
    elif key.endswith("index"):
        arrays = [a.reshape(2, -1) + off for a, off in zip(arrays, offsets, strict=True)]
    else:
        arrays = [a.reshape(-1, width) for a in arrays]
    return torch.from_numpy(np.concatenate(arrays, axis=-1 if key.endswith("index") else 0))


def _starts(counts: list[int]) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)


def collate(
    token_ids: Sequence[Sequence[int]],
    records: Sequence[dict],
    labels: Sequence | np.ndarray | Tensor | None = None,
    pad_id: int = PAD_ID,
) -> MolBatch:
    """Batch molecules: pad tokens on the right to the longest, offset and concatenate the graphs."""
    if len(token_ids) != len(records) or not records:
        raise ValueError(f"need as many token lists as records (>0), got {len(token_ids)} and {len(records)}")
    lengths = torch.tensor([len(t) for t in token_ids])
    tokens = torch.full((len(records), int(lengths.max())), pad_id, dtype=torch.long)
    for i, ids in enumerate(token_ids):
        tokens[i, : len(ids)] = torch.as_tensor(ids, dtype=torch.long)
    token_mask = torch.arange(tokens.shape[1]) < lengths[:, None]

    n_atoms = [len(r["x"]) for r in records]
    atom_starts = _starts(n_atoms)
    graph = {"x": _concat(records, "x", None, len(ATOM_FEATURE_DIMS), np.int64)}
    for prefix in ("", "frag_"):
        bond_starts = _starts([np.asarray(r[f"{prefix}edge_index"]).reshape(2, -1).shape[1] for r in records])
        for key in _GRAPH_KEYS:
            offsets = bond_starts if key == "ba_edge_index" else atom_starts
            dtype = np.float32 if key == "ba_angle" else np.int64
            graph[prefix + key] = _concat(records, prefix + key, offsets, len(BOND_FEATURE_DIMS), dtype)

    num_atoms = torch.tensor(n_atoms, dtype=torch.long)
    atom_batch = torch.repeat_interleave(torch.arange(len(records)), num_atoms)
    atom_pos = torch.arange(len(atom_batch)) - torch.from_numpy(atom_starts)[atom_batch]
    if labels is not None:
        labels = torch.as_tensor(np.asarray(labels, dtype=np.float32))
    return MolBatch(
        tokens=tokens,
        token_mask=token_mask,
        **graph,
        atom_batch=atom_batch,
        atom_pos=atom_pos,
        num_atoms=num_atoms,
        max_atoms=max(n_atoms),
        labels=labels,
    )
