"""Finetune a MuMo model on every seed of one (dataset, split) in one process (see mumo.steps.seeds)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mumo.data.sources import ResolvedDataset
from mumo.steps.seeds import SeedRun, run_seeds
from mumo.train.recipes import FinetuneData, run_finetune


@dataclass(frozen=True)
class FinetuneInputs:
    """The files every seed of a group reads besides its split: `pretrained` is the encoder's weights file
    (or nothing, to start from scratch)."""

    table: str
    shards: list[str]
    vocab: str
    pretrained: list[str]


def finetune_seeds(
    runs: list[SeedRun],
    *,
    inputs: FinetuneInputs,
    dataset: ResolvedDataset,
    settings: dict[str, Any],
    threads: int,
    featurized: dict[str, Any],
    run: dict[str, str],
    out_record: str,
) -> None:
    """Each seed exactly as `run_finetune` trains it alone. `featurized` holds the pipeline's `fragments` and
    `conformer` (how the table and the store were made)."""
    pretrained_dir = str(Path(inputs.pretrained[0]).parent) if inputs.pretrained else None

    def train(seed_run: SeedRun) -> None:
        data = FinetuneData(
            standardised_csv=inputs.table,
            split_json=seed_run.split_json,
            store_dir=inputs.shards,
            vocab_json=inputs.vocab,
            tasks=list(dataset.tasks),
            task_type=dataset.spec.task_type,
            fragments=featurized["fragments"],
            conformer=featurized["conformer"],
        )
        run_finetune(
            data,
            seed=seed_run.seed,
            settings=settings,
            out_predictions=seed_run.predictions,
            out_dir=seed_run.run_dir,
            pretrained_dir=pretrained_dir,
            threads=threads,
            label=f"seed {seed_run.seed} ({runs.index(seed_run) + 1} of {len(runs)})",
        )

    run_seeds(
        runs,
        identity={"settings": settings, **featurized},
        inputs=[inputs.table, *inputs.shards, inputs.vocab, *inputs.pretrained],
        dataset=dataset,
        run=run,
        train=train,
        out_record=out_record,
    )
