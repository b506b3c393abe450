"""Finetune a MuMo model on every seed of one (dataset, split) in one process (see mumo.steps.seeds)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mumo.data.sources import ResolvedDataset
from mumo.steps.seeds import SeedRun, run_seeds
from mumo.train.recipes import run_finetune


def finetune_seeds(
    runs: list[SeedRun],
    *,
    table: str,
    shards: list[str],
    vocab: str,
    pretrained: list[str],
    dataset: ResolvedDataset,
    settings: dict[str, Any],
    threads: int,
    fragments: str,
    conformer: dict[str, Any],
    run: dict[str, str],
    out_record: str,
) -> None:
    """Each seed exactly as `run_finetune` trains it alone; `pretrained` is the encoder's weights file (or
    nothing, to start from scratch)."""
    pretrained_dir = str(Path(pretrained[0]).parent) if pretrained else None

    def train(seed_run: SeedRun) -> None:
        run_finetune(
            standardised_csv=table,
            split_json=seed_run.split_json,
            store_dir=shards,
            vocab_json=vocab,
            tasks=list(dataset.tasks),
            task_type=dataset.spec.task_type,
            seed=seed_run.seed,
            settings=settings,
            out_predictions=seed_run.predictions,
            out_dir=seed_run.run_dir,
            pretrained_dir=pretrained_dir,
            threads=threads,
            fragments=fragments,
            conformer=conformer,
        )

    run_seeds(
        runs,
        identity={
            "settings": settings,
            "tasks": list(dataset.tasks),
            "task_type": dataset.spec.task_type,
            "fragments": fragments,
            "conformer": conformer,
        },
        inputs=[table, *shards, vocab, *pretrained],
        dataset=dataset,
        run=run,
        train=train,
        out_record=out_record,
    )
