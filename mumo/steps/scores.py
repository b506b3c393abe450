"""Scoring steps: score each run, aggregate the table, compare models seed by seed."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd

from mumo.data.sources import ResolvedDataset, read_csv_checked
from mumo.data.splits import FOLDS
from mumo.eval.aggregate import aggregate, run_scores
from mumo.eval.compare import paired_comparisons
from mumo.eval.evaluate import score_predictions
from mumo.eval.predictions import PREDICTION_COLUMNS
from mumo.io import write_csv, write_json

log = logging.getLogger(__name__)


def evaluate_run(
    predictions_csv: str, split_json: str, dataset: ResolvedDataset, run: dict, out_json: str
) -> None:
    predictions = read_csv_checked(predictions_csv, PREDICTION_COLUMNS)  # an empty file named, not scored
    folds = json.loads(Path(split_json).read_text())
    scores = score_predictions(predictions, list(dataset.spec.metrics))
    record = {
        **run,
        "benchmark": dataset.spec.benchmark,
        "task_type": dataset.spec.task_type,
        **{f"n_{fold}": len(folds[fold]) for fold in FOLDS},
        "scores": scores.to_dict(orient="records"),
    }
    write_json(record, out_json)


def aggregate_table(group_records: list[str], out_csv: str) -> None:
    """The table from the seeds' metric files that the groups' records (mumo.steps.seeds) list; a seed that
    failed is named here too, as its group's job log names it (its rows' n_seeds counts the others)."""
    for path in group_records:
        record = json.loads(Path(path).read_text())
        for failed in record.get("failed", []):
            log.warning(
                "%s on %s/%s: seed %d failed (%s); its rows count the other seeds (n_seeds)",
                record["model"],
                record["dataset"],
                record["split"],
                failed["seed"],
                failed["reason"],
            )
    write_csv(aggregate(group_scores(group_records)), out_csv)


def compare_models(group_records: list[str], headline: dict[str, str], preset: str, out_csv: str) -> None:
    """results/comparisons.csv: paired differences per seed, from the same scores as the table; `headline`:
    each dataset's headline metric, `preset`: the config's `mumo.preset` (the ablations')."""
    write_csv(paired_comparisons(group_scores(group_records), headline, preset), out_csv)


def group_scores(group_records: list[str]) -> pd.DataFrame:
    """Every score of the seeds that the groups' records list, one row per seed × fold × task × metric."""
    return run_scores([path for record in group_records for path in record_metrics(record)])


def record_metrics(record_json: str) -> list[str]:
    """The per-seed metric files a group's record lists (its paths are relative to the record's folder)."""
    record = Path(record_json)
    return [str(record.parent / path) for path in json.loads(record.read_text())["metrics"]]
