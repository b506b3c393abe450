"""Figure steps: the table's figures and the learning curves (the only steps that need matplotlib)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mumo.catalog import display_name
from mumo.eval.figures import TABLE_FIGURES, learning_curves, robustness_chart, save_figure


def figures(table_csv: str, headline: dict[str, str], stem: str, figure: str, preset: str) -> None:
    """A figure drawn from the table: `metrics`, `comparison` (ours vs published) or `ablations`; `preset` is
    the config's `mumo.preset`, which names the `mumo` model in the figure."""
    save_figure(TABLE_FIGURES[figure](pd.read_csv(table_csv), headline, preset), stem)


def pretrain_curves(metrics_csvs: list[str], stem: str, preset: str) -> None:
    """One panel per pretrained model, from results/pretrain/{model}/metrics.csv."""
    curves = {display_name(Path(p).parent.name, preset): {Path(p).parent.name: p} for p in metrics_csvs}
    save_figure(learning_curves(curves, "Pretraining (masked-token loss)", preset), stem)


def finetune_curves(metrics_csvs: list[str], stem: str, preset: str) -> None:
    """One panel per dataset and split, one line per model and seed, from each finetuning run's `metrics.csv`
    (runs/{model}/{dataset}/{split}/seed{seed}/)."""
    curves: dict[str, dict[str, Path]] = {}
    for path in map(Path, metrics_csvs):
        model, dataset, split, seed = path.parts[-5:-1]
        curves.setdefault(f"{dataset}, {split} split", {})[f"{model} {seed}"] = path
    save_figure(learning_curves(curves, "Finetuning (supervised loss)", preset), stem)


def robustness_figure(molecules_csv: str, summary_csv: str, stem: str, preset: str) -> None:
    """The prediction spread over conformer seeds per dataset, split and model (mumo.steps.robustness)."""
    chart = robustness_chart(pd.read_csv(molecules_csv), pd.read_csv(summary_csv), preset)
    save_figure(chart, stem)
