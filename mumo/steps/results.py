"""Result steps: score each run, aggregate the table, draw the figures and learning curves."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from mumo.data.sources import ResolvedDataset
from mumo.data.splits import FOLDS
from mumo.eval.aggregate import aggregate, run_scores
from mumo.eval.evaluate import score_predictions
from mumo.eval.figures import TABLE_FIGURES, learning_curves
from mumo.io import write_csv, write_json


def evaluate_run(
    predictions_csv: str, split_json: str, dataset: ResolvedDataset, run: dict, out_json: str
) -> None:
    predictions = pd.read_csv(predictions_csv)
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


def aggregate_table(metric_files: list[str], out_csv: str) -> None:
    write_csv(aggregate(run_scores(metric_files)), out_csv)


def figures(table_csv: str, headline: dict[str, str], stem: str, figure: str = "metrics") -> None:
    """A figure drawn from the table: `metrics`, `comparison` (ours vs published) or `ablations`."""
    TABLE_FIGURES[figure](pd.read_csv(table_csv), headline, stem)


def pretrain_curves(metrics_csvs: list[str], stem: str) -> None:
    """One panel per pretrained model, from results/pretrain/{model}/metrics.csv."""
    curves = {Path(p).parent.name: {Path(p).parent.name: p} for p in metrics_csvs}
    learning_curves(curves, stem, "Pretraining (masked-token loss)")


def finetune_curves(metrics_csvs: list[str], stem: str) -> None:
    """One panel per dataset and split, one line per model and seed, from each finetuning run's `metrics.csv`
    (runs/{model}/{dataset}/{split}/seed{seed}/)."""
    curves: dict[str, dict[str, Path]] = {}
    for path in map(Path, metrics_csvs):
        model, dataset, split, seed = path.parts[-5:-1]
        curves.setdefault(f"{dataset} {split}", {})[f"{model} {seed}"] = path
    learning_curves(curves, stem, "Finetuning (supervised loss)")
