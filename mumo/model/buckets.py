"""Bucketed static shapes: pad a MolBatch so that batches of different sizes share one shape.

A compiled model (`mumo.model.compile`) is specialised on the shapes of its input, and a CUDA graph replays
one shape. Token length, atom, bond and angle counts change from batch to batch; rounding each up to a
bucket (16, 24, 32, 48, 64, 96, ...: powers of two and 1.5 times them, so at most a third is padding)
bounds the number of shapes a run compiles for.

The padding never reaches a real molecule:

- atoms: at least one extra atom, with zero features, in molecule B (`atom_batch` = B), which the model's
  per-molecule sums and packing drop (`mumo.model.graph_encoder.sum_by_molecule`, `pack_atoms`);
- bonds: at least one extra bond, each a self-loop on the first padding atom; angles join the first padding
  bond to itself, so padding messages only ever reach padding;
- tokens and the packed atom width `max_atoms`: padded only when the model never reads padded positions,
  i.e. without the quirks `additive_mask_bug` (padded keys get attention weight), `bipooler_reads_pad`
  (reads position L-1) and `mixpooler_mean_reads_pad` (averages over pads); with them those two sizes stay;
- under `skip_edgeless_graph_steps` an empty bond or angle set stays empty: padding it would run a graph
  step the quirk skips for that batch.

The batch size is not padded: the last, smaller batch of an epoch compiles once more.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import Tensor

from mumo.model.batch import PAD_ID, MolBatch
from mumo.model.config import MuMoConfig

#: the smallest bucket of every padded size
MIN_BUCKET = 16


def bucket(n: int, minimum: int = MIN_BUCKET) -> int:
    """The smallest bucket >= n: `minimum` (a power of two >= 4), then 2^k and 3·2^(k-1) above it."""
    if n <= minimum:
        return minimum
    high = 1 << (n - 1).bit_length()
    return high * 3 // 4 if n <= high * 3 // 4 else high


def reads_padding(config: MuMoConfig) -> bool:
    """Whether the model's output depends on padded token or packed-atom positions (quirks of the paper)."""
    pooled = config.head != "pretrain"
    return (
        config.additive_mask_bug
        or (pooled and config.pooler != "cls" and config.bipooler_reads_pad)
        or (pooled and config.pooler == "mixpooler" and config.mixpooler_mean_reads_pad)
    )


def _append(tensor: Tensor, count: int, value: float, dim: int = 0) -> Tensor:
    """`tensor` with `count` entries of `value` appended along `dim`."""
    shape = list(tensor.shape)
    shape[dim] = count
    return torch.cat([tensor, tensor.new_full(shape, value)], dim=dim)


def pad_to_buckets(batch: MolBatch, config: MuMoConfig) -> MolBatch:
    """`batch` with every size rounded up to its bucket (see the module docstring); real outputs unchanged.

    Sizes are read from shapes, never from tensor values, so padding needs no device sync.
    """
    keep_empty = config.skip_edgeless_graph_steps
    n_atoms = batch.x.shape[0]
    extra_atoms = bucket(n_atoms + 1) - n_atoms
    changes: dict[str, Tensor | int] = {
        "x": _append(batch.x, extra_atoms, 0),
        "atom_batch": _append(batch.atom_batch, extra_atoms, batch.batch_size),
        "atom_pos": _append(batch.atom_pos, extra_atoms, 0),
    }
    if not reads_padding(config):
        length = batch.tokens.shape[1]
        changes["tokens"] = F.pad(batch.tokens, (0, bucket(length) - length), value=PAD_ID)
        changes["token_mask"] = F.pad(batch.token_mask, (0, bucket(length) - length), value=False)
        changes["max_atoms"] = bucket(batch.max_atoms)
    for prefix in ("", "frag_"):
        edge_index, ba_edge_index = (
            getattr(batch, prefix + "edge_index"),
            getattr(batch, prefix + "ba_edge_index"),
        )
        n_bonds, n_angles = edge_index.shape[1], ba_edge_index.shape[1]
        if n_bonds or not keep_empty:
            extra = bucket(n_bonds + 1) - n_bonds
            changes[prefix + "edge_index"] = _append(edge_index, extra, n_atoms, dim=1)
            changes[prefix + "edge_attr"] = _append(getattr(batch, prefix + "edge_attr"), extra, 0)
        if n_angles or not keep_empty:
            extra = bucket(n_angles) - n_angles
            changes[prefix + "ba_edge_index"] = _append(ba_edge_index, extra, n_bonds, dim=1)
            changes[prefix + "ba_angle"] = _append(getattr(batch, prefix + "ba_angle"), extra, 0.0)
    return dataclasses.replace(batch, **changes)
