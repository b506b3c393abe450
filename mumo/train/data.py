"""Molecules for training: token ids and structure records from the store, and length-aware batches.

Batches group molecules of similar token length (SMILES run from ~10 to ~200 tokens, so random batches would
be mostly padding), unless the model's quirks ask for the paper's random training batches and evaluation in
dataset order. The order is a pure function of (seed, epoch): a resumed run sees the same batches as an
uninterrupted one, and every process of a multi-process run derives the same global list and takes its share.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from mumo.chem.store import StructureStore
from mumo.chem.tokenizer import SmilesTokenizer
from mumo.model.batch import MolBatch, collate

logger = logging.getLogger(__name__)

#: Molecules per length-sorting pool, in batches: larger pools pad less but mix lengths across batches less.
POOL_BATCHES = 50


class MoleculeDataset(Dataset):
    """Molecules by SMILES (canonical, or as the dataset gives them) with optional labels [n, T] (NaN: missing).

    Token ids are computed up front (lengths drive the batching); records are read from the store on access,
    so the dataset stays small even for a large corpus. A record built from another spelling of the SMILES
    is tokenised from the record's own string: the tokens must be the string the graph was built from.
    """

    def __init__(
        self,
        smiles: Sequence[str],
        store: StructureStore,
        tokenizer: SmilesTokenizer,
        max_length: int,
        labels: np.ndarray | None = None,
    ) -> None:
        self.smiles, self.store, self.tokenizer, self.max_length = list(smiles), store, tokenizer, max_length
        if labels is not None:  # one column per task (an empty fold included: no reshape of 0 rows)
            labels = np.asarray(labels, dtype=np.float32)
            labels = labels[:, None] if labels.ndim == 1 else labels
        self.labels = labels
        self.token_ids = [tokenizer.encode(s, max_length) for s in self.smiles]
        self.lengths = np.array([len(ids) for ids in self.token_ids])

    def __len__(self) -> int:
        return len(self.smiles)

    def __getitem__(self, index: int) -> tuple[list[int], dict, np.ndarray | None]:
        record = self.store[self.smiles[index]]
        ids = self.token_ids[index]
        if record["smiles"] != self.smiles[index]:
            ids = self.tokenizer.encode(record["smiles"], self.max_length)
        return ids, record, None if self.labels is None else self.labels[index]

    def collate(self, items: Sequence[tuple[list[int], dict, np.ndarray | None]]) -> MolBatch:
        ids, records, labels = zip(*items, strict=True)
        return collate(ids, records, None if labels[0] is None else np.stack(labels), self.tokenizer.pad_id)

    def batch(self, indices: Sequence[int]) -> MolBatch:
        return self.collate([self[i] for i in indices])


def split_by_store(smiles: Sequence[str], store: StructureStore) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the molecules that have a structure record, and of those that do not."""
    present = np.array([s in store for s in smiles], dtype=bool)
    return np.flatnonzero(present), np.flatnonzero(~present)


def length_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator | None) -> list[list[int]]:
    """Batches of similar length: shuffled pools of POOL_BATCHES batches, each sorted by length, cut, shuffled.

    Without `rng`: one pass over all molecules sorted by length (evaluation: least padding, fixed order).
    """
    n = len(lengths)
    if rng is None:
        order = np.argsort(lengths, kind="stable")
        return [order[i : i + batch_size].tolist() for i in range(0, n, batch_size)]
    order = rng.permutation(n)
    pool = batch_size * POOL_BATCHES
    batches = []
    for start in range(0, n, pool):
        chunk = order[start : start + pool]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches += [chunk[i : i + batch_size].tolist() for i in range(0, len(chunk), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def random_batches(n: int, batch_size: int, rng: np.random.Generator) -> list[list[int]]:
    """A seeded shuffle cut into consecutive batches, lengths ignored (the paper's training order; quirk
    `random_batch_order`): only the last batch is short."""
    order = rng.permutation(n)
    return [order[i : i + batch_size].tolist() for i in range(0, n, batch_size)]


def eval_batches(lengths: np.ndarray, batch_size: int, in_dataset_order: bool) -> list[list[int]]:
    """Batches for evaluation and prediction: sorted by length (least padding), or consecutive rows in dataset
    order as the paper evaluated (quirk `eval_in_dataset_order`). Either way every row is in one batch."""
    if not in_dataset_order:
        return length_batches(lengths, batch_size, rng=None)
    return [list(range(i, min(i + batch_size, len(lengths)))) for i in range(0, len(lengths), batch_size)]


class LengthBatchSampler(Sampler[list[int]]):
    """Seeded length-aware batches for one process of `world_size`, resumable at any micro-batch.

    With `by_length=False` the batches are `random_batches` instead (quirk `random_batch_order`); the rest
    holds for both. Each epoch's global batch list depends only on (seed, epoch). It is cut to a multiple of
    `world_size × multiple_of` (the micro-batches of one optimizer step), so every process runs the same number
    of steps; process r takes batches r, r + world_size, ... With this layout, N processes × accumulation k
    see exactly the batches of 1 process × accumulation N·k, in the same optimizer steps.
    """

    def __init__(
        self,
        lengths: np.ndarray,
        batch_size: int,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
        *,
        multiple_of: int = 1,
        by_length: bool = True,
    ) -> None:
        self.lengths, self.batch_size, self.seed = np.asarray(lengths), batch_size, seed
        self.by_length = by_length
        self.rank, self.world_size, self.multiple_of = rank, world_size, multiple_of
        self.epoch, self.start = 0, 0
        if self.num_global_batches == 0:
            raise ValueError(
                f"{len(lengths)} molecules make no full optimizer step of {world_size} process(es) × "
                f"{multiple_of} micro-batch(es) of {batch_size}; lower batch_size or grad_accum"
            )

    @property
    def num_global_batches(self) -> int:
        """Batches per epoch over all processes (pools are whole batches, so only the last batch is short)."""
        step = self.world_size * self.multiple_of
        n = -(-len(self.lengths) // self.batch_size)
        return n - n % step

    def global_batches(self, epoch: int) -> list[list[int]]:
        rng = np.random.default_rng([self.seed, epoch])
        if self.by_length:
            batches = length_batches(self.lengths, self.batch_size, rng)
        else:
            batches = random_batches(len(self.lengths), self.batch_size, rng)
        return batches[: self.num_global_batches]

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        """Iterate epoch `epoch` from this process's micro-batch `start` (resuming mid-epoch)."""
        self.epoch, self.start = epoch, start

    def __len__(self) -> int:
        return self.num_global_batches // self.world_size

    def __iter__(self) -> Iterator[list[int]]:
        mine = self.global_batches(self.epoch)[self.rank :: self.world_size]
        yield from mine[self.start :]


def batch_generator(seed: int, *position: int) -> torch.Generator:
    """A generator for one micro-batch, seeded by its place in the run (e.g. epoch and global batch index).

    The place, not the process, decides the draws: 1 or N processes and a resumed run mask the same tokens.
    """
    state = np.random.SeedSequence([seed, *position]).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator().manual_seed(int(state))
