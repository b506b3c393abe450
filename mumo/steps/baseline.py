"""Baseline steps: ECFP fingerprints once per dataset, then per split and seed a forest or the mean predictor
(every seed of a split in one job: `baseline_seeds`)."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from mumo.baselines import ecfp_rf, mean
from mumo.data.sources import ResolvedDataset
from mumo.eval.predictions import long_predictions
from mumo.io import atomic_path, write_csv
from mumo.steps.seeds import SeedRun, run_seeds

log = logging.getLogger(__name__)


def ecfp_file(standardised_csv: str, out_npy: str, n_bits: int, radius: int) -> None:
    table = pd.read_csv(standardised_csv)
    bits = ecfp_rf.ecfp4(table["canonical_smiles"].tolist(), n_bits=n_bits, radius=radius)
    with atomic_path(out_npy) as tmp:
        with open(tmp, "wb") as handle:
            np.save(handle, np.packbits(bits, axis=1), allow_pickle=False)


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
    table = pd.read_csv(standardised_csv)
    folds = json.loads(Path(split_json).read_text())
    features = np.unpackbits(np.load(features_npy), axis=1)
    tasks = list(dataset.tasks)
    labels = table[tasks].to_numpy(float)
    forest = ecfp_rf.RandomForestSettings(**settings)
    rows = {fold: np.asarray(folds[fold], dtype=int) for fold in ("valid", "test")}
    start = time.perf_counter()
    # One forest per task predicts both folds (fitting it again per fold would give the same forest).
    stacked = ecfp_rf.fit_predict(
        features,
        labels,
        np.asarray(folds["train"], dtype=int),
        np.concatenate(list(rows.values())),
        dataset.spec.task_type,
        seed=seed,
        settings=forest,
        threads=threads,
    )
    ends = np.cumsum([len(index) for index in rows.values()])[:-1]
    predictions = dict(zip(rows, np.split(stacked, ends), strict=True))
    log.info("ECFP+RF trained and predicted in %.1f s", time.perf_counter() - start)
    write_csv(long_predictions(table, tasks, rows, predictions), out_predictions)


def train_mean(
    standardised_csv: str, split_json: str, dataset: ResolvedDataset, out_predictions: str
) -> None:
    """The mean baseline's predictions of the valid and test folds, in the same file format as every model's."""
    table = pd.read_csv(standardised_csv)
    folds = json.loads(Path(split_json).read_text())
    tasks = list(dataset.tasks)
    labels = table[tasks].to_numpy(float)
    train = np.asarray(folds["train"], dtype=int)
    rows = {fold: np.asarray(folds[fold], dtype=int) for fold in ("valid", "test")}
    predictions = {fold: mean.fit_predict(labels, train, len(index)) for fold, index in rows.items()}
    means = mean.fit_predict(labels, train, 1).ravel()  # also when a fold is empty (fraction 0)
    log.info("mean baseline: %s", dict(zip(tasks, means.round(4).tolist(), strict=True)))
    write_csv(long_predictions(table, tasks, rows, predictions), out_predictions)


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
    """`run["model"]`'s predictions and scores on every seed of one (dataset, split): the ECFP+RF forest from
    the table's `features`, or the mean predictor (no features, no settings)."""

    def train(seed_run: SeedRun) -> None:
        if features is None:
            train_mean(
                standardised_csv=table,
                split_json=seed_run.split_json,
                dataset=dataset,
                out_predictions=seed_run.predictions,
            )
        else:
            train_ecfp_rf(
                standardised_csv=table,
                split_json=seed_run.split_json,
                features_npy=features,
                dataset=dataset,
                seed=seed_run.seed,
                settings=settings,
                threads=threads,
                out_predictions=seed_run.predictions,
            )

    run_seeds(
        runs,
        identity={"settings": settings},
        inputs=[table] if features is None else [table, features],
        dataset=dataset,
        run=run,
        train=train,
        out_record=out_record,
    )
