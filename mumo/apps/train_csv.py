"""`mumo train`: from a user's CSV to an ensemble of finetuned models, through the pipeline's own steps.

The CSV goes through what a custom dataset of the pipeline goes through (`mumo.steps.data`: standardise and
split; `mumo.steps.structure`: the structure store; `run_finetune`: one model per seed), so a `mumo train`
model and a pipeline model of the same data and settings are made the same way. The output folder is an
ensemble `mumo predict --model DIR` reads:

    DIR/raw.csv, standardised.csv, rejected.csv, counts.json   the table and every rejected row with its reason
    DIR/vocab.json                                             the vocabulary (the pretrained model's with --from)
    DIR/splits/seed{s}.json                                    the folds (row indices of standardised.csv)
    DIR/seed{s}/model/, predictions.csv, training_log.csv, ... one finetuned model per seed
    DIR/report.csv, report.md                                  test (and valid) scores per seed, mean ± std
    DIR/ensemble.json                                          what was run, and its structure store file
    DIR/train.log                                              what every step said (a failure's traceback too)
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mumo.apps.predict_csv import ENSEMBLE_NAME, STRUCTURES_DIR
from mumo.chem.conformer import ConformerConfig
from mumo.chem.store import read_smiles_table
from mumo.data.sources import resolve
from mumo.data.splits import SPLITTERS, check_fractions, fold_column_split, folds_of_rows
from mumo.data.standardise import Standardised
from mumo.eval.evaluate import score_predictions
from mumo.io import sha256sum, write_csv, write_json, write_text_atomic
from mumo.model.saved import VOCAB_NAME, featurization, find_model
from mumo.steps.data import build_vocab, fetch_raw, split_file, standardise_file
from mumo.steps.structure import structure_shard
from mumo.train.recipes import FinetuneData, run_finetune
from mumo.train.settings import TrainSettings

logger = logging.getLogger(__name__)

COLUMN_SPLIT = "column:"


def _fixed_split(input_csv: Path, split: str | None, splits_file: str | None, rows: int) -> list[str] | None:
    """The fold of every input row when the user gives them (`column:NAME` or a splits file), else None."""
    if splits_file is not None:
        return folds_of_rows(json.loads(Path(splits_file).read_text()), rows, splits_file)
    if split is not None and split.startswith(COLUMN_SPLIT):
        column = split.removeprefix(COLUMN_SPLIT)
        frame = pd.read_csv(input_csv, dtype=str, keep_default_na=False)
        if column not in frame.columns:
            raise ValueError(f"{input_csv}: no split column {column!r}; columns: {', '.join(frame.columns)}")
        return frame[column].str.strip().str.lower().replace({"val": "valid"}).tolist()
    if split not in SPLITTERS:
        raise ValueError(
            f"unknown split {split!r}; valid: {', '.join(SPLITTERS)}, {COLUMN_SPLIT}NAME or a splits file"
        )
    return None


@contextmanager
def _log_to(path: Path) -> Iterator[None]:
    """Every step's log lines (and the traceback of a failure) into `path`, for the duration of a run."""
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(min(level, logging.INFO))
    try:
        yield
    except Exception:
        logger.exception("mumo train failed")
        raise
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        handler.close()


@dataclass(frozen=True)
class EnsembleOptions:
    """How `train_csv` splits, featurises and trains: the options of `mumo train` (see its --help)."""

    split: str = "balanced_scaffold"
    splits_file: str | None = None
    fractions: Sequence[float] = (0.8, 0.1, 0.1)
    pretrained: str | Path | None = None  # None: the models start from scratch
    settings: dict[str, Any] | None = None
    fragments: str = "largest"
    conformer: dict[str, Any] | None = None
    store: str | Path | None = None  # a structure store shared between runs; None: DIR/structures
    workers: int = 1
    threads: int = 1


def train_csv(
    input_csv: str | Path,
    output_dir: str | Path,
    smiles_column: str,
    target_columns: Sequence[str],
    task_type: str,
    *,
    seeds: Sequence[int] = (0,),
    options: EnsembleOptions = EnsembleOptions(),
) -> pd.DataFrame:
    """Standardise, split, featurise and finetune one model per seed; write the ensemble folder and return
    the report (one row per seed, fold, task and metric)."""
    o = options
    split, splits_file, fragments, store = o.split, o.splits_file, o.fragments, o.store
    if len(set(seeds)) != len(seeds) or not seeds:
        raise ValueError(f"seeds must be distinct and at least one, got {list(seeds)}")
    if splits_file is None and not split.startswith(COLUMN_SPLIT):
        check_fractions(list(o.fractions), "--split-fractions")
    input_csv, out = Path(input_csv), Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    with _log_to(out / "train.log"):
        name = input_csv.stem
        read_smiles_table(input_csv, smiles_column)  # the empty file or missing column named before any work
        dataset = resolve(
            name,
            {
                "path": str(input_csv),
                "smiles_column": smiles_column,
                "label_columns": list(target_columns),
                "task_type": task_type,
            },
        )
        table, rejected = out / "standardised.csv", out / "rejected.csv"
        fetch_raw(dataset, str(out / "raw.csv"), str(out))
        standardised = standardise_file(
            str(out / "raw.csv"),
            dataset,
            fragments,
            out_csv=str(table),
            rejected_csv=str(rejected),
            counts_json=str(out / "counts.json"),
        )

        sets = _fixed_split(input_csv, split, splits_file, standardised.counts["raw"])
        split_name = "splits_file" if splits_file else split
        given = (
            None
            if sets is None
            else fold_column_split(pd.read_csv(table), sets, splits_file or str(input_csv))
        )
        splits = {}
        for seed in seeds:
            path = out / "splits" / f"seed{seed}.json"
            path.parent.mkdir(exist_ok=True)
            if given is None:
                split_file(str(table), split, seed, list(o.fractions), str(path), dataset=name)
            else:  # the user's folds, the same for every seed
                write_json({"split": split_name, "seed": seed, **given}, path)
            splits[seed] = path

        s = TrainSettings.from_dict(o.settings)
        featurized = featurization(fragments, o.conformer)
        store_dir = Path(store) if store is not None else out / STRUCTURES_DIR
        store_dir.mkdir(parents=True, exist_ok=True)
        # named by the table and the settings: runs sharing a store with other settings read their own file
        conformer = ConformerConfig(**featurized["conformer"])
        shard = store_dir / f"{name}-{sha256sum(table)[:12]}-{conformer.digest()}.npz"
        structure_shard(
            [str(table)],
            (0, 1),
            featurized["conformer"],
            o.workers,
            out_npz=str(shard),
            out_report=str(out / "structures.csv"),
            cache_dir=str(store_dir / "cache"),
            raw_csvs=[str(table)] if s.tokens_from_raw_smiles else (),
        )

        pretrained_dir = find_model(o.pretrained) if o.pretrained is not None else None
        vocab = out / VOCAB_NAME
        if pretrained_dir is not None:
            vocab.write_bytes((pretrained_dir / VOCAB_NAME).read_bytes())
        else:
            build_vocab([str(table)], str(vocab))
        metrics = list(dataset.spec.metrics)
        scores = []
        for seed in seeds:
            run = out / f"seed{seed}"
            data = FinetuneData(
                str(table),
                str(splits[seed]),
                [str(shard)],
                str(vocab),
                list(target_columns),
                task_type,
                fragments=fragments,
                conformer=featurized["conformer"],
            )
            run_finetune(
                data,
                seed=seed,
                settings=s.to_dict(),
                out_predictions=str(run / "predictions.csv"),
                out_dir=str(run),
                pretrained_dir=None if pretrained_dir is None else str(pretrained_dir),
                threads=o.threads,
            )
            scores.append(score_predictions(pd.read_csv(run / "predictions.csv"), metrics).assign(seed=seed))
        report = pd.concat(scores, ignore_index=True)[["seed", "fold", "task", "metric", "value", "n"]]
        write_csv(report, out / "report.csv")
        write_text_atomic(
            out / "report.md", _report_md(input_csv, report, standardised, pretrained_dir, split_name)
        )
        record = {
            "input": str(input_csv),
            "tasks": list(target_columns),
            "task_type": task_type,
            "seeds": list(seeds),
            "split": split_name,
            "from": None if pretrained_dir is None else str(pretrained_dir),
            "store": str(shard.resolve() if store is not None else shard.relative_to(out)),
            "settings": s.to_dict(),
            **featurized,
        }
        write_json(record, out / ENSEMBLE_NAME)
        return report


def summarise(report: pd.DataFrame) -> pd.DataFrame:
    """Mean, standard deviation (ddof 1) and number of seeds per fold, task and metric."""
    grouped = report.groupby(["fold", "task", "metric"], sort=False)["value"]
    return grouped.agg(
        mean="mean", std=lambda v: float(np.std(v, ddof=1)) if len(v) > 1 else 0.0, seeds="count"
    )


def _report_md(
    input_csv: Path, report: pd.DataFrame, standardised: Standardised, pretrained: Path | None, split: str
) -> str:
    start = (
        f"finetuned from {pretrained}"
        if pretrained
        else "trained from scratch (no --from; see mumo pretrain)"
    )
    counts, rejected = standardised.counts, ", ".join(f"{k} {n}" for k, n in standardised.reasons.items())
    lines = [
        f"# mumo train: {input_csv}",
        "",
        f"{counts['raw']} rows, {counts['kept']} kept, {counts['rejected']} rejected"
        + (f" ({rejected}; each row and its reason in rejected.csv)" if rejected else ""),
        f"split {split}, seeds {', '.join(map(str, sorted(report['seed'].unique())))}; {start}",
        "",
        "| fold | task | metric | mean ± std | seeds |",
        "|---|---|---|---|---|",
    ]
    for (fold, task, metric), row in summarise(report).iterrows():
        lines.append(
            f"| {fold} | {task} | {metric} | {row['mean']:.3f} ± {row['std']:.3f} | {row['seeds']} |"
        )
    return "\n".join(lines) + "\n"
