"""Pretraining and finetuning recipes: files in → datasets and model → `engine.train` → files out.

The pipeline calls `run_pretrain` and `run_finetune`; `mumo pretrain|finetune` wrap them. Under a multi-process
launch every rank runs the recipe, and rank 0 alone writes the outputs.

Each run ends with its saved model folder, `out_dir/model/` (`mumo.model.saved`: config, weights, vocabulary,
task and, for a finetuned model, the featurisation its molecules went through).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from mumo.chem.conformer import ConformerConfig
from mumo.chem.store import StructureStore
from mumo.chem.tokenizer import SmilesTokenizer
from mumo.data.registry import CLASSIFICATION, REGRESSION
from mumo.data.sources import read_csv_checked
from mumo.data.splits import check_needed_folds
from mumo.eval.predictions import long_predictions
from mumo.io import write_csv, write_text_atomic
from mumo.model import MuMo, get_preset, mask_tokens
from mumo.model.batch import MolBatch
from mumo.model.config import FINETUNE_MAX_LENGTH, PRETRAIN_MAX_LENGTH
from mumo.model.saved import (
    MODEL_DIR,
    VOCAB_NAME,
    WEIGHTS_NAME,
    ModelTask,
    featurization,
    load_config,
    load_pretrained,
    save_model,
)
from mumo.train.data import MoleculeDataset, split_by_store
from mumo.train.engine import Dist, TrainResult, dataset_loss, distributed, seed_everything, train
from mumo.train.predict import predict_dataset
from mumo.train.settings import TrainSettings

logger = logging.getLogger(__name__)

PREDICTED_FOLDS = ("valid", "test")


# --------------------------------------------------------------------------------------------------
# Losses


def masked_token_loss(
    model: MuMo, batch: MolBatch, generator: torch.Generator, mask_prob: float
) -> torch.Tensor:
    """docs/model.md §2.6: BERT masking of the tokens (the graph stays unmasked), cross-entropy on the selected."""
    inputs, labels = mask_tokens(batch.tokens, model.config.vocab_size, generator, mask_prob)
    return model.loss(model(dataclasses.replace(batch, tokens=inputs)), labels)


def supervised_loss(model: MuMo, batch: MolBatch, generator: torch.Generator) -> torch.Tensor:
    """The head's loss (NaN labels masked or, under the paper quirk, taken as 0; regression targets scaled)."""
    return model.loss(model(batch), batch.labels)


# --------------------------------------------------------------------------------------------------
# Models and their directories


def head_fields(task_type: str, num_tasks: int) -> dict[str, Any]:
    """MuMoConfig head of a task: 2-logit classification, multi-label (several classification tasks), regression."""
    if task_type == CLASSIFICATION:
        return (
            {"head": "classification", "num_tasks": 1}
            if num_tasks == 1
            else {"head": "multilabel", "num_tasks": num_tasks}
        )
    if task_type == REGRESSION:
        return {"head": "regression", "num_tasks": num_tasks}
    raise ValueError(f"unknown task_type {task_type!r}; valid: {CLASSIFICATION}, {REGRESSION}")


def build_model(
    settings: TrainSettings, tokenizer: SmilesTokenizer, head: dict[str, Any], pretrained_dir: str | None
) -> MuMo:
    """A fresh `settings.preset` model, or the pretrained encoder with a new head; `settings.model` overrides."""
    overrides = {**settings.model, **head}
    if pretrained_dir is None:
        return MuMo(get_preset(settings.preset, vocab_size=len(tokenizer), **overrides))
    saved_vocab = Path(pretrained_dir) / VOCAB_NAME
    if saved_vocab.exists() and SmilesTokenizer.load(saved_vocab).vocab_hash != tokenizer.vocab_hash:
        raise ValueError(f"{pretrained_dir} was trained with another vocabulary than the one given")
    if load_config(pretrained_dir).vocab_size != len(tokenizer):
        raise ValueError(f"{pretrained_dir}: vocabulary size differs from the tokenizer's ({len(tokenizer)})")
    logger.info("finetuning from %s (its architecture; preset %r not used)", pretrained_dir, settings.preset)
    return load_pretrained(pretrained_dir, **overrides)


def _digest(*parts: Any) -> str:
    """Identity of a run for its checkpoints: settings and the bytes of its input files."""
    h = hashlib.sha256()
    for part in parts:
        h.update(
            Path(part).read_bytes() if isinstance(part, Path) else json.dumps(part, default=str).encode()
        )
    return h.hexdigest()[:16]


def _read_smiles(csv_path: str, column: str = "canonical_smiles") -> list[str]:
    frame = read_csv_checked(csv_path, [column], dtype={column: "string"}, keep_default_na=False)
    return frame[column].tolist()


# --------------------------------------------------------------------------------------------------
# Recipes


@dataclass(frozen=True)
class PretrainData:
    """What pretraining learns from: a corpus CSV with a `canonical_smiles` column, the structure store (its
    shard files, or a folder of them) built with the `conformer` settings (None: the defaults; a store file
    built otherwise is refused) and the vocabulary."""

    corpus_csv: str
    store: str | list[str]
    vocab_json: str
    conformer: dict[str, Any] | None = None


def run_pretrain(data: PretrainData, out_dir: str, settings: dict, *, threads: int = 1) -> None:
    """Masked-token pretraining (docs/model.md §2.6) on `data`'s corpus.

    A `valid_fraction` slice of the corpus (seeded) is held out for the validation loss. Molecules without a
    structure record are left out and counted. Writes `out_dir/model/`, `training_log.csv`, `learning_curve.png`,
    `checkpoints/` and `summary.json`.
    """
    s = TrainSettings.from_dict(settings)
    torch.set_num_threads(threads)
    out = Path(out_dir)
    started = time.perf_counter()
    with distributed() as dist:
        seed_everything(s.seed)
        tokenizer = SmilesTokenizer.load(data.vocab_json)
        conformer = ConformerConfig.from_dict(data.conformer or {}, "conformer settings")
        store = StructureStore(data.store, conformer=conformer)
        smiles = list(dict.fromkeys(_read_smiles(data.corpus_csv)))
        present, missing = split_by_store(smiles, store)
        if len(missing):
            logger.warning(
                "%d of %d corpus molecules have no structure record: left out", len(missing), len(smiles)
            )
        order = np.random.default_rng(s.seed).permutation(present)
        n_valid = round(len(order) * s.valid_fraction)
        max_length = s.max_length or PRETRAIN_MAX_LENGTH
        make = lambda rows: MoleculeDataset([smiles[i] for i in rows], store, tokenizer, max_length)  # noqa: E731
        train_set, valid_set = make(order[n_valid:]), make(order[:n_valid])
        model = build_model(s, tokenizer, {"head": "pretrain"}, None)
        loss_fn = partial(masked_token_loss, mask_prob=s.mask_prob)
        evaluate = (
            partial(dataset_loss, dataset=valid_set, loss_fn=loss_fn, settings=s, dist=dist)
            if n_valid
            else None
        )
        run_key = _digest(s.fingerprint(), Path(data.corpus_csv), Path(data.vocab_json))
        result = train(
            model, train_set, loss_fn, evaluate=evaluate, settings=s, out_dir=out, dist=dist, run_key=run_key
        )
        if dist.is_main and result.finished:
            save_model(
                out / MODEL_DIR,
                model,
                tokenizer,
                ModelTask.encoder(max_length),
            )
            summary = {
                "molecules": len(smiles),
                "train": len(train_set),
                "valid": len(valid_set),
                "missing_structure": len(missing),
            }
            _write_summary(out, summary, result, s, dist, started=started)


@dataclass(frozen=True)
class FinetuneData:
    """What a finetuning run learns from: the standardised table, its split, the structure store (its shard
    files, or a folder of them), the vocabulary and the label columns. `fragments` and `conformer` (the
    pipeline's `standardise.fragments` and `structure.conformer`; defaults for a store from `mumo featurize`)
    say how the table and the store were made (a store file built otherwise is refused); they go to
    `model/featurization.json` for `mumo predict`."""

    standardised_csv: str
    split_json: str
    store_dir: str | list[str]
    vocab_json: str
    tasks: list[str]
    task_type: str
    fragments: str = "largest"
    conformer: dict[str, Any] | None = None


def run_finetune(
    data: FinetuneData,
    *,
    seed: int,
    settings: dict,
    out_predictions: str,
    out_dir: str,
    pretrained_dir: str | None = None,
    threads: int = 1,
    label: str = "train",
) -> None:
    """Finetune on the split's train fold, select on its valid fold, predict valid and test.

    `seed` (the pipeline's) replaces `settings["seed"]`. Model selection is `settings.selection`: "last" (the
    paper's protocol) or "best_valid" (lowest validation loss, early stopping after `patience` evaluations); the
    test fold is only ever predicted. An empty valid fold means no validation: the last step is kept, with a
    warning; an empty train or test fold is refused before any work. Regression targets are z-scored with training-fold statistics and
    predictions de-normalised. A molecule without a structure record cannot be embedded (the model has no
    graph-free path: a molecule without atoms gets an all-masked cross-attention); it is left out of training
    and selection and written with y_pred NaN, and counted in the log and `summary.json`.
    The model reads `canonical_smiles`, or with the quirk `tokens_from_raw_smiles` the table's `smiles` as given
    (tokens and graph; the store must hold records keyed by those strings); predictions are keyed by
    `canonical_smiles` either way.

    Writes `out_predictions` (long format: mol_id, canonical_smiles, fold, task, y_true, y_pred for the valid
    and test folds) and in `out_dir`: `model/` (with `data`'s featurisation), `training_log.csv`,
    `learning_curve.png`, `checkpoints/`, `summary.json` (and `best/` with best_valid selection). `label`
    names the run on its progress bar and in its selection log line.
    """
    tasks, task_type = data.tasks, data.task_type
    featurized = featurization(data.fragments, data.conformer)
    s = TrainSettings.from_dict({**settings, "seed": seed})
    torch.set_num_threads(threads)
    out = Path(out_dir)
    started = time.perf_counter()
    # the model input: the standardised molecule, or under the paper's quirk the table's string as given
    raw = s.tokens_from_raw_smiles
    column = "smiles" if raw else "canonical_smiles"
    table, rows = _read_table_and_folds(data, column)
    max_length = s.max_length or FINETUNE_MAX_LENGTH
    with distributed() as dist:
        seed_everything(s.seed)
        tokenizer = SmilesTokenizer.load(data.vocab_json)
        store = StructureStore(data.store_dir, conformer=ConformerConfig(**featurized["conformer"]))
        encode = partial(MoleculeDataset, store=store, tokenizer=tokenizer, max_length=max_length)
        datasets, missing = _fold_datasets(table[column].to_numpy(), table[tasks], rows, encode, store)
        model = build_model(
            s, tokenizer, head_fields(task_type, len(tasks)) | {"tokens_from_raw_smiles": raw}, pretrained_dir
        )
        if model.target_scaler is not None:
            model.target_scaler.fit(datasets["train"][1].labels)
        has_valid = len(datasets["valid"][1]) > 0
        if not has_valid:
            logger.warning(
                "%s: no valid molecules: no validation loss and no early stopping; the last step is kept",
                data.split_json,
            )
            s = dataclasses.replace(s, selection="last")
        evaluate = partial(
            dataset_loss, dataset=datasets["valid"][1], loss_fn=supervised_loss, settings=s, dist=dist
        )
        inputs = [Path(data.standardised_csv), Path(data.split_json), Path(data.vocab_json)]
        if pretrained_dir is not None:
            inputs.append(Path(pretrained_dir) / WEIGHTS_NAME)
        result = train(
            model,
            datasets["train"][1],
            supervised_loss,
            evaluate=evaluate if has_valid else None,
            settings=s,
            out_dir=out,
            dist=dist,
            run_key=_digest(s.fingerprint(), tasks, task_type, *inputs),
            label=label,
        )
        if dist.is_main and result.finished:
            predictions = _predict_folds(model, datasets, rows, len(tasks), s=s, device=dist.device)
            frame = long_predictions(table, tasks, {f: rows[f] for f in PREDICTED_FOLDS}, predictions)
            write_csv(frame, out_predictions)
            task = ModelTask(task_type, tuple(tasks), max_length)
            save_model(out / MODEL_DIR, model, tokenizer, task, featurized)
            summary = {fold: len(rows[fold]) for fold in rows} | {"missing_structure": missing}
            _write_summary(out, summary, result, s, dist, started=started)
        dist.barrier()


def _read_table_and_folds(data: FinetuneData, column: str) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """The standardised table (its label columns, ids and the model's input `column`) and the split's row
    positions per fold, refused before any work when a needed fold is missing or empty."""
    table = read_csv_checked(
        data.standardised_csv,
        ["mol_id", "canonical_smiles", column, *data.tasks],
        dtype={"canonical_smiles": "string", column: "string"},
    )
    split = json.loads(Path(data.split_json).read_text())
    check_needed_folds(split, data.split_json)
    return table, {fold: np.asarray(split[fold], dtype=np.int64) for fold in ("train", *PREDICTED_FOLDS)}


def _fold_datasets(
    smiles: np.ndarray,
    label_columns: pd.DataFrame,
    rows: dict[str, np.ndarray],
    encode: Callable[..., MoleculeDataset],
    store: StructureStore,
) -> tuple[dict[str, tuple[np.ndarray, MoleculeDataset]], dict[str, int]]:
    """Per fold, the positions (in the fold) of the molecules with a structure record and their dataset; and
    per fold the count of those without one (left out, predicted NaN). Training rows without any label are
    dropped too: they teach nothing."""
    labels = label_columns.to_numpy(dtype=np.float64)
    datasets, missing = {}, {}
    for fold, fold_rows in rows.items():
        present, absent = split_by_store(smiles[fold_rows], store)
        if fold == "train":
            present = present[~np.isnan(labels[fold_rows[present]]).all(axis=1)]
        missing[fold] = len(absent)
        kept = fold_rows[present]
        datasets[fold] = (present, encode(smiles[kept], labels=labels[kept]))
    if any(missing.values()):
        logger.warning("molecules without a structure record (y_pred NaN, not trained on): %s", missing)
    return datasets, missing


def _predict_folds(
    model: MuMo,
    datasets: dict[str, tuple[np.ndarray, MoleculeDataset]],
    rows: dict[str, np.ndarray],
    n_tasks: int,
    *,
    s: TrainSettings,
    device: torch.device,
) -> dict[str, np.ndarray]:
    """Predictions [fold rows, tasks] of the valid and test folds, NaN for a molecule without a structure."""
    predictions = {}
    for fold in PREDICTED_FOLDS:
        predictions[fold] = np.full((len(rows[fold]), n_tasks), np.nan)
        positions, dataset = datasets[fold]
        if len(dataset):
            predictions[fold][positions] = predict_dataset(model, dataset, s.batch_size, device, s.precision)
    return predictions


def _write_summary(
    out: Path, counts: dict, result: TrainResult, s: TrainSettings, dist: Dist, *, started: float
) -> None:
    """summary.json: the data counts, how training went, where it ran and with which settings."""
    summary = counts | {
        "steps": result.steps,
        "stopped_early": result.stopped_early,
        "best_step": result.best_step,
        "best_valid_loss": result.best_valid,
        "world_size": dist.world_size,
        "device": str(dist.device),
        "wall_s": round(time.perf_counter() - started, 2),
        "settings": s.to_dict(),
    }
    write_text_atomic(out / "summary.json", json.dumps(summary, indent=2) + "\n")
