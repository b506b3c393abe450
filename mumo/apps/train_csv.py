"""`mumo train`: from a user's CSV to an ensemble of finetuned models, through the pipeline's own steps.

The CSV goes through what a custom dataset of the pipeline goes through (`mumo.steps.data`: standardise and
split; `mumo.steps.structure`: the structure store; `run_finetune`: one model per seed), so a `mumo train`
model and a pipeline model of the same data and settings are made the same way. The output folder is an
ensemble `mumo predict --model DIR` reads:

    DIR/raw.csv, standardised.csv, rejected.csv, counts.json   the table and every rejected row with its reason
    DIR/vocab.json                                             the vocabulary (the pretrained model's with --from)
    DIR/splits/seed{s}.json                                    the folds (row indices of standardised.csv)
    DIR/seed{s}/model/, predictions.csv, training_log.csv, ... one finetuned model per seed (done.json: finished)
    DIR/seeds.json                                             the seeds' metric files
    DIR/report.csv, report.md                                  test (and valid) scores per seed, mean ± std
    DIR/ensemble.json                                          the manifest, written last: what was run, its
                                                               members (paths relative to DIR), its store file
    DIR/train.log                                              what every step said (a failure's traceback too)
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from mumo.apps.cost import CostError, ThroughputTable, finetune_seconds, steps_per_epoch, table_precision
from mumo.apps.predict_csv import ENSEMBLE_NAME, STRUCTURES_DIR, TRAIN_COMMAND, seed_folders
from mumo.chem.conformer import ConformerConfig
from mumo.chem.store import read_smiles_table
from mumo.chem.tokenizer import tokenize
from mumo.data.sources import ResolvedDataset, resolve
from mumo.data.splits import FOLDS, SPLITTERS, check_fractions, fold_column_split, folds_of_rows
from mumo.data.standardise import Standardised
from mumo.eval.evaluate import score_predictions
from mumo.io import owned_output, sha256sum, write_csv, write_json, write_text_atomic
from mumo.model.saved import MODEL_DIR, VOCAB_NAME, WEIGHTS_NAME, featurization, find_model
from mumo.steps.baseline import reference_scores
from mumo.steps.data import build_vocab, fetch_raw, split_file, standardise_file
from mumo.steps.finetune import FinetuneInputs, finetune_seeds
from mumo.steps.seeds import SeedRun
from mumo.steps.structure import structure_shard
from mumo.train.settings import TrainSettings

logger = logging.getLogger(__name__)

COLUMN_SPLIT = "column:"
SEEDS_RECORD = "seeds.json"  # the seeds' metric files (mumo.steps.seeds), written after the last seed


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


class _Terminal(logging.StreamHandler):
    """The log lines a person watching `mumo train` needs on the terminal: what this module says (a seed
    folder removed), each seed as it starts or is kept, and what model selection kept (early stopping).
    The steps' details (one line per rejected row, ...) and a failure's traceback stay in train.log."""

    SHOWN = (__name__, "mumo.steps.seeds", "mumo.train.engine.selection")

    def filter(self, record: logging.LogRecord) -> bool:
        return record.exc_info is None and record.name in self.SHOWN

    def format(self, record: logging.LogRecord) -> str:
        return ("warning: " if record.levelno >= logging.WARNING else "") + record.getMessage()


@contextmanager
def _log_to(path: Path) -> Iterator[None]:
    """Every step's log lines (and the traceback of a failure) into `path`, and the lines `_Terminal` shows
    to stderr, for the duration of a run."""
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    terminal = _Terminal()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.addHandler(terminal)
    root.setLevel(min(level, logging.INFO))
    try:
        yield
    except Exception:
        logger.exception("mumo train failed")
        raise
    finally:
        root.removeHandler(handler)
        root.removeHandler(terminal)
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
    #: reference models trained on the same folds and scored beside MuMo in the report (mean, ecfp_rf, chemprop)
    references: Sequence[str] = ("mean", "ecfp_rf")


#: report.csv: MuMo's rows (model "mumo") and the reference models' on the same seeds' folds
REPORT_COLUMNS = ["model", "seed", "fold", "task", "metric", "value", "n"]


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
    the report (one row per seed, fold, task and metric).

    The folder belongs to `mumo train` (`mumo.io.owned_output`): a folder with anything else in it is refused,
    and a rerun into it keeps each seed already finished from the same inputs and settings (as the
    pipeline does, `mumo.steps.seeds`) and removes seed folders the run no longer has."""
    if len(set(seeds)) != len(seeds) or not seeds:
        raise ValueError(f"seeds must be distinct and at least one, got {list(seeds)}")
    if options.splits_file is None and not options.split.startswith(COLUMN_SPLIT):
        check_fractions(list(options.fractions), "--split-fractions")
    input_csv = Path(input_csv)
    with owned_output(output_dir, TRAIN_COMMAND) as out, _log_to(out / "train.log"):
        (out / ENSEMBLE_NAME).unlink(missing_ok=True)  # the manifest comes back once every seed is done
        _drop_other_seeds(out, seeds)
        return _train(
            input_csv,
            out,
            smiles_column=smiles_column,
            target_columns=list(target_columns),
            task_type=task_type,
            seeds=seeds,
            o=options,
        )


def _drop_other_seeds(out: Path, seeds: Sequence[int]) -> None:
    """Remove the seed folders (and splits) of an earlier run into `out` that this run does not have."""
    for stale in sorted(set(seed_folders(out)) - {out / f"seed{s}" for s in seeds}):
        logger.warning("%s: not a seed of this run; removed (left by an earlier mumo train here)", stale)
        shutil.rmtree(stale)
        (out / "splits" / f"{stale.name}.json").unlink(missing_ok=True)


def _train(
    input_csv: Path,
    out: Path,
    *,
    smiles_column: str,
    target_columns: list[str],
    task_type: str,
    seeds: Sequence[int],
    o: EnsembleOptions,
) -> pd.DataFrame:
    name = input_csv.stem
    dataset, standardised = _standardise(
        input_csv, out, smiles_column=smiles_column, target_columns=target_columns, task_type=task_type, o=o
    )
    table = out / "standardised.csv"
    split_name = "splits_file" if o.splits_file else o.split
    splits = _write_splits(input_csv, out, seeds, o, rows=standardised.counts["raw"], name=name)

    s = TrainSettings.from_dict(o.settings)
    featurized = featurization(o.fragments, o.conformer)  # bad settings are named before the estimate
    logger.info(_expected_duration(table, splits[seeds[0]], s, n_seeds=len(seeds)))
    store_dir = Path(o.store) if o.store is not None else out / STRUCTURES_DIR
    shard = _structures(table, store_dir, featurized, s, name=name, workers=o.workers)

    pretrained_dir = find_model(o.pretrained) if o.pretrained is not None else None
    vocab = out / VOCAB_NAME
    if pretrained_dir is not None:
        vocab.write_bytes((pretrained_dir / VOCAB_NAME).read_bytes())
    else:
        build_vocab([str(table)], str(vocab))
    runs = [
        SeedRun(seed, str(splits[seed]), str(out / f"seed{seed}"), str(out / f"seed{seed}" / "train.log"))
        for seed in seeds
    ]
    finetune_seeds(
        runs,
        inputs=FinetuneInputs(
            str(table),
            [str(shard)],
            str(vocab),
            [] if pretrained_dir is None else [str(pretrained_dir / WEIGHTS_NAME)],
        ),
        dataset=dataset,
        settings=s.to_dict(),
        threads=o.threads,
        featurized=featurized,
        run={"model": "mumo", "dataset": name, "split": split_name},
        out_record=str(out / SEEDS_RECORD),
    )
    report = _scores(runs, dataset, table, out, split_name=split_name, o=o)
    write_csv(report, out / "report.csv")
    write_text_atomic(
        out / "report.md", _report_md(input_csv, report, standardised, pretrained_dir, split_name)
    )
    record = {
        "input": str(input_csv.resolve()),
        "tasks": target_columns,
        "task_type": task_type,
        "seeds": list(seeds),
        "members": [f"seed{seed}/{MODEL_DIR}" for seed in seeds],  # relative to the folder
        "split": split_name,
        "from": None if pretrained_dir is None else str(pretrained_dir.resolve()),
        "store": str(shard.resolve()) if o.store is not None else str(shard.relative_to(out)),
        "settings": s.to_dict(),
        **featurized,
    }
    write_json(record, out / ENSEMBLE_NAME)  # last: its presence marks a finished ensemble
    return report


def _scores(
    runs: list[SeedRun],
    dataset: ResolvedDataset,
    table: Path,
    out: Path,
    *,
    split_name: str,
    o: EnsembleOptions,
) -> pd.DataFrame:
    """report.csv's rows: each seed's MuMo scores, and the reference models' trained on the same folds as the
    pipeline's baseline jobs train them."""
    metrics = list(dataset.spec.metrics)
    scores = [score_predictions(pd.read_csv(r.predictions), metrics).assign(seed=r.seed) for r in runs]
    report = pd.concat(scores, ignore_index=True).assign(model="mumo")
    if o.references:
        references = reference_scores(
            str(table),
            {r.seed: r.split_json for r in runs},
            dataset,
            str(out / "references"),
            split=split_name,
            models=tuple(o.references),
            threads=o.threads,
        )
        report = pd.concat([report, references], ignore_index=True)
    return report[REPORT_COLUMNS]


def _standardise(
    input_csv: Path,
    out: Path,
    *,
    smiles_column: str,
    target_columns: list[str],
    task_type: str,
    o: EnsembleOptions,
) -> tuple[ResolvedDataset, Standardised]:
    """The user's file as a dataset, copied into the folder and standardised (standardised.csv, rejected.csv,
    counts.json); an empty file or a missing column is named before any work."""
    read_smiles_table(input_csv, smiles_column)
    options = {"path": str(input_csv), "smiles_column": smiles_column, "label_columns": target_columns}
    dataset = resolve(input_csv.stem, options | {"task_type": task_type})
    fetch_raw(dataset, str(out / "raw.csv"), str(out))
    standardised = standardise_file(
        str(out / "raw.csv"),
        dataset,
        o.fragments,
        out_csv=str(out / "standardised.csv"),
        rejected_csv=str(out / "rejected.csv"),
        counts_json=str(out / "counts.json"),
    )
    return dataset, standardised


#: Real finetunes take longer than the throughput table's synthetic molecules, scaled by tokens, say: the
#: default run's BACE, ESOL and FreeSolv epochs took 1.45, 1.64 and 1.92 × that estimate (two jobs on two
#: cores; benchmarks/results/default-run.md). The estimate is multiplied by this.
REAL_OVER_TABLE = 1.6


def _expected_duration(table: Path, split_json: Path, s: TrainSettings, *, n_seeds: int) -> str:
    """One line before the work starts: the training time if every epoch runs, from the measured throughput
    table (`mumo cost`'s) scaled to these molecules' mean token count and by REAL_OVER_TABLE."""
    split = json.loads(split_json.read_text())
    folds = {fold: len(split[fold]) for fold in FOLDS}
    smiles = pd.read_csv(table, usecols=["canonical_smiles"])["canonical_smiles"].astype(str)
    mean_tokens = float(np.mean([len(tokenize(smi)) + 1 for smi in smiles]))  # + [CLS]
    steps = max(1, steps_per_epoch(folds["train"], s.batch_size, s.grad_accum, 1))
    epochs = s.epochs if s.max_steps is None else min(s.epochs, -(-s.max_steps // steps))
    throughput = ThroughputTable.read()
    device = _device_name(throughput)
    try:
        rate = throughput.rate(s.preset, device, s.batch_size, table_precision(s.precision, device))
    except CostError as err:
        return f"no training time estimate: {err}"
    evaluations = epochs if s.eval_every is None else epochs * steps // s.eval_every
    seconds = (
        n_seeds
        * REAL_OVER_TABLE
        * finetune_seconds(
            rate.molecules_per_s,
            train=folds["train"],
            predicted=folds["valid"] + folds["test"],
            epochs=epochs,
            mean_tokens=mean_tokens,
            evaluations=evaluations,
        )
    )
    return (
        f"expected: training ~{seconds / 60:.0f} min at most ({n_seeds} seed(s) × up to {epochs} epochs of "
        f"{folds['train']:,} molecules of ~{mean_tokens:.0f} tokens, at the {rate.molecules_per_s:g} molecules/s "
        f"measured for {s.preset} batch {rate.row['batch_size']} on {device}, one thread); early stopping "
        "usually ends it sooner; structures and reference models come on top"
    )


def _device_name(throughput: ThroughputTable) -> str:
    """The throughput table's name for the device training will run on ('cpu' without CUDA)."""
    if not torch.cuda.is_available():
        return "cpu"
    name = torch.cuda.get_device_name(0).lower()
    return next((device for device in throughput.devices if device in name), name)


def _write_splits(
    input_csv: Path, out: Path, seeds: Sequence[int], o: EnsembleOptions, *, rows: int, name: str
) -> dict[int, Path]:
    """splits/seed{s}.json per seed: a seeded split of the table, or the user's folds for every seed."""
    table = out / "standardised.csv"
    sets = _fixed_split(input_csv, o.split, o.splits_file, rows)
    given = (
        None if sets is None else fold_column_split(pd.read_csv(table), sets, o.splits_file or str(input_csv))
    )
    splits = {}
    for seed in seeds:
        path = out / "splits" / f"seed{seed}.json"
        path.parent.mkdir(exist_ok=True)
        if given is None:
            split_file(str(table), o.split, seed, list(o.fractions), str(path), dataset=name)
        else:  # the user's folds, the same for every seed
            write_json({"split": "splits_file" if o.splits_file else o.split, "seed": seed, **given}, path)
        splits[seed] = path
    return splits


def _structures(
    table: Path, store_dir: Path, featurized: dict, s: TrainSettings, *, name: str, workers: int
) -> Path:
    """The table's structure shard in `store_dir`, named by the table's bytes and how it is featurised, and
    built only if missing (a rerun's seeds then see the very same shard and are kept)."""
    raw = s.tokens_from_raw_smiles
    digest = hashlib.sha256(f"{sha256sum(table)}|tokens_from_raw_smiles={raw}".encode()).hexdigest()[:12]
    store_dir.mkdir(parents=True, exist_ok=True)
    # the conformer settings' own digest in the name: runs sharing a store with other settings read their own file
    shard = store_dir / f"{name}-{digest}-{ConformerConfig(**featurized['conformer']).digest()}.npz"
    report = table.parent / "structures.csv"
    if shard.exists() and report.exists():
        logger.info("%s: structures computed earlier for this table and these settings, kept", shard)
        return shard
    structure_shard(
        [str(table)],
        (0, 1),
        featurized["conformer"],
        workers,
        out_npz=str(shard),
        out_report=str(report),
        cache_dir=str(store_dir / "cache"),
        raw_csvs=[str(table)] if raw else (),
    )
    return shard


def summarise(report: pd.DataFrame) -> pd.DataFrame:
    """Mean, standard deviation (ddof 1) and number of seeds per model, fold, task and metric."""
    grouped = report.groupby(["model", "fold", "task", "metric"], sort=False)["value"]
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
        "MuMo beside the reference models trained on the same folds (mean: the training fold's mean or positive "
        "rate; ecfp_rf: ECFP4 + random forest; chemprop: Chemprop's D-MPNN); test fold rows first.",
        "",
        "| model | fold | task | metric | mean ± std | seeds |",
        "|---|---|---|---|---|---|",
    ]
    summary = summarise(report).reset_index()
    summary = summary.sort_values("fold", key=lambda fold: fold != "test", kind="stable")
    for row in summary.itertuples():  # seeds is a count: printed as an integer
        lines.append(
            f"| {row.model} | {row.fold} | {row.task} | {row.metric} | {row.mean:.3f} ± {row.std:.3f} "
            f"| {int(row.seeds)} |"
        )
    return "\n".join(lines) + "\n"
