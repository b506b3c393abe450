"""Where a CPU training step goes: process CPU time per molecule of one model step on real batches.

Times a plain PyTorch step (forward, loss, backward, AdamW; no DeepSpeed, no DataLoader) on length-bucketed
batches of a pipeline dataset, for the full model and with parts of the graph switched off, plus a forward pass
under `torch.no_grad` (what validation costs per molecule). CPU time (`time.process_time`), not wall time: on a
shared box the wall time mostly measures the neighbours.

    .venv/bin/python benchmarks/train_step.py --table results/data/standardised/bace.csv \\
        --split results/data/splits/bace/balanced_scaffold/seed0.json --store results/structure/datasets/bace.npz \\
        --vocab results/pretrain/vocab.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from mumo.chem.store import StructureStore
from mumo.chem.tokenizer import SmilesTokenizer
from mumo.model.batch import MolBatch
from mumo.train.data import LengthBatchSampler, MoleculeDataset
from mumo.train.recipes import build_model, head_fields, supervised_loss
from mumo.train.settings import TrainSettings

VARIANTS = {
    "full": {},
    "no graph (sequence only)": {"use_graph": False},
    "no 3D angles": {"use_geometry": False},
    "no BRICS fragments": {"use_fragments": False},
}


def cpu_ms_per_molecule(batches: list[MolBatch], step) -> float:
    """CPU ms per molecule over batches[1:], after one warm-up step on batches[0]."""
    step(batches[0])
    started = time.process_time()
    for batch in batches[1:]:
        step(batch)
    return 1000 * (time.process_time() - started) / sum(b.batch_size for b in batches[1:])


def measure(batches: list[MolBatch], tokenizer: SmilesTokenizer, preset: str, overrides: dict) -> dict:
    torch.manual_seed(0)
    settings = TrainSettings(preset=preset, model=overrides)
    model = build_model(settings, tokenizer, head_fields("classification", 1), None)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lr)

    def train_step(batch: MolBatch) -> None:
        loss = supervised_loss(model, batch, None)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    @torch.no_grad()
    def forward(batch: MolBatch) -> None:
        supervised_loss(model, batch, None)

    model.train()
    train_ms = cpu_ms_per_molecule(batches, train_step)
    model.eval()
    return {
        "parameters": sum(p.numel() for p in model.parameters()),
        "train_cpu_ms_per_mol": round(train_ms, 1),
        "train_mol_per_cpu_s": round(1000 / train_ms, 1),
        "forward_cpu_ms_per_mol": round(cpu_ms_per_molecule(batches, forward), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--table", required=True, help="standardised CSV")
    parser.add_argument("--split", required=True, help="split JSON (its train fold is batched)")
    parser.add_argument("--store", required=True)
    parser.add_argument("--vocab", required=True)
    parser.add_argument(
        "--label", default="Class", help="label column (classification head; the value is irrelevant)"
    )
    parser.add_argument("--preset", default="small")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--batches", type=int, default=9, help="timed batches + 1 warm-up")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    tokenizer, store = SmilesTokenizer.load(args.vocab), StructureStore(args.store)
    table = pd.read_csv(args.table, dtype={"canonical_smiles": "string"}, keep_default_na=False)
    rows = np.asarray(json.loads(Path(args.split).read_text())["train"])
    smiles, labels = table["canonical_smiles"].to_numpy()[rows], table[[args.label]].to_numpy(float)[rows]
    dataset = MoleculeDataset(smiles, store, tokenizer, 1024, labels)
    sampler = LengthBatchSampler(dataset.lengths, args.batch_size, seed=0)
    batches = [dataset.batch(indices) for indices in list(sampler)[: args.batches]]
    shape = {
        "tokens_per_mol": round(float(np.mean([b.token_mask.sum() / b.batch_size for b in batches])), 1),
        "atoms_per_mol": round(float(np.mean([b.x.shape[0] / b.batch_size for b in batches])), 1),
        "torch": torch.__version__,
        "threads": args.threads,
    }
    print(json.dumps(shape), flush=True)
    for name, overrides in VARIANTS.items():
        print(
            json.dumps({"variant": name, **measure(batches, tokenizer, args.preset, overrides)}), flush=True
        )


if __name__ == "__main__":
    main()
