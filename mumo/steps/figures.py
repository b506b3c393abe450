"""Figure steps: the table's figures and the learning curves (the only steps that need matplotlib)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mumo.eval.figures import TABLE_FIGURES, learning_curves


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
