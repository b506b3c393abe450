"""Figure steps: the table's figures, the paired comparisons and the learning curves (the only steps that
need matplotlib)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mumo.eval.figures import TABLE_FIGURES, forest_chart, learning_curves, robustness_chart, save_figure
from mumo.eval.names import display_name
from mumo.train.training_log import find_training_log


def figures(table_csv: str, headline: dict[str, str], stem: str, figure: str, preset: str) -> None:
    """A figure drawn from the table: `metrics`, `comparison` (ours vs published) or `ablations`; `preset` is
    the config's `mumo.preset`, which names the `mumo` model in the figure."""
    save_figure(TABLE_FIGURES[figure](pd.read_csv(table_csv), headline, preset), stem)


def comparisons_figure(comparisons_csv: str, stem: str | Path, preset: str) -> None:
    """The forest plot of results/comparisons.csv; `preset` names the `mumo` model as in the other figures."""
    save_figure(forest_chart(pd.read_csv(comparisons_csv, dtype={"seeds": str, "diffs": str}), preset), stem)


def pretrain_curves(training_logs: list[str], stem: str, preset: str) -> None:
    """One panel per pretrained model, from results/pretrain/{model}/training_log.csv (or a run folder's
    metrics.csv, its name before)."""
    curves = {
        display_name(Path(p).parent.name, preset): {Path(p).parent.name: find_training_log(p)}
        for p in training_logs
    }
    save_figure(learning_curves(curves, "Pretraining (masked-token loss)", preset), stem)


def finetune_curves(training_logs: list[str], stem: str, preset: str) -> None:
    """One panel per dataset and split, one line per model and seed, from each finetuning run's training log
    (runs/{model}/{dataset}/{split}/seed{seed}/training_log.csv, or metrics.csv in a folder written before)."""
    curves: dict[str, dict[str, Path]] = {}
    for path in map(Path, training_logs):
        model, dataset, split, seed = path.parts[-5:-1]
        curves.setdefault(f"{dataset}, {split} split", {})[f"{model} {seed}"] = find_training_log(path)
    save_figure(learning_curves(curves, "Finetuning (supervised loss)", preset), stem)


def robustness_figure(molecules_csv: str, summary_csv: str, stem: str, preset: str) -> None:
    """The prediction spread over conformer seeds per dataset, split and model (mumo.steps.robustness)."""
    chart = robustness_chart(pd.read_csv(molecules_csv), pd.read_csv(summary_csv), preset)
    save_figure(chart, stem)
