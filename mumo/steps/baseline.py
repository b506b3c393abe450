"""Baseline steps: ECFP fingerprints once per dataset, then per split and seed the mean predictor, a forest or
Chemprop (every seed of a split in one job: `baseline_seeds`)."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mumo.baselines import chemprop, ecfp_rf, mean
from mumo.catalog import get_model
from mumo.data.sources import ResolvedDataset
from mumo.eval.aggregate import run_scores
from mumo.eval.predictions import long_predictions
from mumo.io import atomic_path, write_csv
from mumo.steps.scores import record_metrics
from mumo.steps.seeds import SeedRun, run_seeds

log = logging.getLogger(__name__)


def ecfp_file(standardised_csv: str, out_npy: str, n_bits: int, radius: int) -> None:
    table = pd.read_csv(standardised_csv)
    bits = ecfp_rf.ecfp4(table["canonical_smiles"].tolist(), n_bits=n_bits, radius=radius)
    with atomic_path(out_npy) as tmp:
        with open(tmp, "wb") as handle:
            np.save(handle, np.packbits(bits, axis=1), allow_pickle=False)


@dataclass(frozen=True)
class _Split:
    """A standardised table read with one split file: the task labels [n, T] and the rows of each fold."""

    table: pd.DataFrame
    tasks: list[str]
    labels: np.ndarray
    train: np.ndarray
    rows: dict[str, np.ndarray]  # valid and test, the folds every model predicts

    @property
    def predicted(self) -> np.ndarray:
        """The valid then the test rows: a model fitted once predicts both in one call."""
        return np.concatenate(list(self.rows.values()))

    def write(self, stacked: np.ndarray, out_predictions: str) -> None:
        """The predictions of `predicted` rows, in the file format every model shares."""
        ends = np.cumsum([len(index) for index in self.rows.values()])[:-1]
        predictions = dict(zip(self.rows, np.split(stacked, ends), strict=True))
        write_csv(long_predictions(self.table, self.tasks, self.rows, predictions), out_predictions)


def _read_split(standardised_csv: str, split_json: str, dataset: ResolvedDataset) -> _Split:
    table = pd.read_csv(standardised_csv)
    folds = json.loads(Path(split_json).read_text())
    tasks = list(dataset.tasks)
    rows = {fold: np.asarray(folds[fold], dtype=int) for fold in ("valid", "test")}
    return _Split(table, tasks, table[tasks].to_numpy(float), np.asarray(folds["train"], dtype=int), rows)


def train_ecfp_rf(
    standardised_csv: str,
    split_json: str,
    features_npy: str,
    dataset: ResolvedDataset,
    *,
    seed: int,
    settings: dict,
    threads: int,
    out_predictions: str,
) -> None:
    split = _read_split(standardised_csv, split_json, dataset)
    features = np.unpackbits(np.load(features_npy), axis=1)
    forest = ecfp_rf.RandomForestSettings(**settings)
    start = time.perf_counter()
    # One forest per task predicts both folds (fitting it again per fold would give the same forest).
    stacked = ecfp_rf.fit_predict(
        features,
        split.labels,
        split.train,
        split.predicted,
        dataset.spec.task_type,
        seed=seed,
        settings=forest,
        threads=threads,
    )
    log.info("ECFP+RF trained and predicted in %.1f s", time.perf_counter() - start)
    split.write(stacked, out_predictions)


def train_chemprop(
    standardised_csv: str,
    split_json: str,
    dataset: ResolvedDataset,
    *,
    seed: int,
    settings: dict,
    threads: int,
    out_predictions: str,
) -> None:
    """Chemprop's D-MPNN trained on the split's train fold, its checkpoint chosen on the valid fold."""
    split = _read_split(standardised_csv, split_json, dataset)
    start = time.perf_counter()
    stacked = chemprop.fit_predict(
        split.table["canonical_smiles"].tolist(),
        split.labels,
        {"train": split.train, "valid": split.rows["valid"], "predict": split.predicted},
        dataset.spec.task_type,
        seed=seed,
        settings=chemprop.ChempropSettings.from_dict(settings),
        threads=threads,
    )
    log.info("Chemprop trained and predicted in %.1f s", time.perf_counter() - start)
    split.write(stacked, out_predictions)


def train_mean(
    standardised_csv: str, split_json: str, dataset: ResolvedDataset, out_predictions: str
) -> None:
    """The mean baseline's predictions of the valid and test folds, in the same file format as every model's."""
    split = _read_split(standardised_csv, split_json, dataset)
    stacked = mean.fit_predict(split.labels, split.train, len(split.predicted))
    means = mean.fit_predict(split.labels, split.train, 1).ravel()  # also when a fold is empty (fraction 0)
    log.info("mean baseline: %s", dict(zip(split.tasks, means.round(4).tolist(), strict=True)))
    split.write(stacked, out_predictions)


def baseline_seeds(
    runs: list[SeedRun],
    *,
    table: str,
    features: str | None,
    dataset: ResolvedDataset,
    settings: dict,
    threads: int,
    run: dict[str, str],
    out_record: str,
) -> None:
    """`run["model"]`'s predictions and scores on every seed of one (dataset, split): the mean predictor (no
    features, no settings), the ECFP+RF forest from the table's `features`, or Chemprop from its SMILES. A
    failed seed is recorded and the others go on (mumo.steps.seeds)."""
    kind = get_model(run["model"]).kind

    def train(seed_run: SeedRun) -> None:
        common = dict(standardised_csv=table, split_json=seed_run.split_json, dataset=dataset)
        if kind == "mean":
            train_mean(**common, out_predictions=seed_run.predictions)
            return
        options = dict(
            seed=seed_run.seed, settings=settings, threads=threads, out_predictions=seed_run.predictions
        )
        if kind == "ecfp_rf":
            train_ecfp_rf(**common, features_npy=features, **options)
        else:
            train_chemprop(**common, **options)

    run_seeds(
        runs,
        identity={"settings": settings},
        inputs=[table] if features is None else [table, features],
        dataset=dataset,
        run=run,
        train=train,
        out_record=out_record,
        record_failures=True,
    )


def reference_scores(
    standardised_csv: str,
    split_files: dict[int, str],
    dataset: ResolvedDataset,
    out_dir: str,
    *,
    split: str = "custom",
    models: tuple[str, ...] = ("mean", "ecfp_rf"),
    settings: dict[str, dict] | None = None,
    threads: int = 1,
) -> pd.DataFrame:
    """Per-seed scores of reference models (mean, ecfp_rf, chemprop) on one standardised table and its split
    files (seed -> file), trained exactly as the pipeline's baseline jobs train them, into
    `out_dir/runs/{model}/seed{s}/` (a rerun keeps finished seeds): what a report shows beside MuMo.

    `settings` holds each model's config block (`{"ecfp_rf": {...}, "chemprop": {...}}`, defaults where
    absent). One row per (model, seed, fold, task, metric), as mumo.eval.aggregate.run_scores gives them."""
    out = Path(out_dir)
    records = []
    for model in models:
        options = dict((settings or {}).get(model, {}))
        features = None
        if get_model(model).kind == "ecfp_rf":
            features = str(out / "features" / "ecfp.npy")
            n_bits, radius = options.pop("n_bits", ecfp_rf.N_BITS), options.pop("radius", ecfp_rf.RADIUS)
            ecfp_file(standardised_csv, features, n_bits=n_bits, radius=radius)
        runs = [
            SeedRun(
                seed,
                path,
                str(out / "runs" / model / f"seed{seed}"),
                str(out / "logs" / model / f"seed{seed}.log"),
            )
            for seed, path in split_files.items()
        ]
        records.append(str(out / "runs" / model / "seeds.json"))
        baseline_seeds(
            runs,
            table=standardised_csv,
            features=features,
            dataset=dataset,
            settings=options,
            threads=threads,
            run={"model": model, "dataset": dataset.spec.name, "split": split},
            out_record=records[-1],
        )
    return run_scores([metrics for record in records for metrics in record_metrics(record)])
