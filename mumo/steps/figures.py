"""Figure steps: the table's figures, the paired comparisons and the learning curves (the only steps that
need matplotlib)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from mumo.eval.figures import TABLE_FIGURES, forest_chart, learning_curves, robustness_chart, save_figure
from mumo.eval.names import display_name
from mumo.train.training_log import find_training_log


def figures(
    table_csv: str,
    headline: dict[str, str],
    stem: str,
    figure: str,
    preset: str,
    *,
    budget: str | None = None,
) -> None:
    """A figure drawn from the table: `metrics`, `comparison` (ours vs published) or `ablations`; `preset` is
    the config's `mumo.preset`, which names the `mumo` model in the figure; `budget` (`Plan.training_budget`)
    says in a footnote how long MuMo was trained."""
    save_figure(TABLE_FIGURES[figure](pd.read_csv(table_csv), headline, preset, budget), stem)


def _runs_trained(training_logs: list[Path]) -> str:
    """How long a panel's runs trained, from their logs and `summary.json` (when the run wrote one): epochs
    run, the most allowed, how many stopped early on the validation loss, and the peak learning rate."""
    epochs = [float(pd.read_csv(path)["epoch"].iloc[-1]) for path in training_logs]
    ran = f"{min(epochs):.1f}" if max(epochs) - min(epochs) < 0.05 else f"{min(epochs):.1f}–{max(epochs):.1f}"
    summaries = [path.parent / "summary.json" for path in training_logs]
    if not all(summary.exists() for summary in summaries):
        return f"{len(epochs)} run(s), {ran} epochs"
    summaries = [json.loads(summary.read_text()) for summary in summaries]
    allowed = max(summary["settings"]["epochs"] for summary in summaries)
    early = sum(bool(summary["stopped_early"]) for summary in summaries)
    rates = "/".join(sorted({f"{summary['settings']['lr']:g}" for summary in summaries}))
    return f"{len(epochs)} run(s): {ran} of ≤{allowed} epochs, {early} stopped early; lr {rates}"


def comparisons_figure(comparisons_csv: str, stem: str | Path, preset: str) -> None:
    """The forest plot of results/comparisons.csv; `preset` names the `mumo` model as in the other figures."""
    save_figure(forest_chart(pd.read_csv(comparisons_csv, dtype={"seeds": str, "diffs": str}), preset), stem)


def pretrain_curves(training_logs: list[str], stem: str, preset: str) -> None:
    """One panel per pretrained model, from results/pretrain/{model}/training_log.csv (or metrics.csv, its name
    before); its title says on how many molecules and for how many epochs it trained."""
    curves, budgets = {}, {}
    for path in map(Path, training_logs):
        panel = display_name(path.parent.name, preset)
        curves[panel] = {path.parent.name: find_training_log(path)}
        summary = path.parent / "summary.json"
        if summary.exists():
            trained = json.loads(summary.read_text())
            budgets[panel] = (
                f"{trained['train']:,} molecules × {trained['settings']['epochs']} epoch(s), "
                f"{trained['steps']} steps"
            )
    save_figure(learning_curves(curves, "Pretraining (masked-token loss)", preset, budgets), stem)


def finetune_curves(training_logs: list[str], stem: str, preset: str) -> None:
    """One panel per dataset and split, one line per model and seed, from each finetuning run's training log
    (runs/{model}/{dataset}/{split}/seed{seed}/training_log.csv, or metrics.csv in a folder written before);
    its title says how long those runs trained."""
    curves: dict[str, dict[str, Path]] = {}
    for path in map(Path, training_logs):
        model, dataset, split, seed = path.parts[-5:-1]
        curves.setdefault(f"{dataset}, {split} split", {})[f"{model} {seed}"] = find_training_log(path)
    budgets = {panel: _runs_trained(list(runs.values())) for panel, runs in curves.items()}
    save_figure(learning_curves(curves, "Finetuning (supervised loss)", preset, budgets), stem)


def robustness_figure(molecules_csv: str, summary_csv: str, stem: str, preset: str) -> None:
    """The prediction spread over conformer seeds per dataset, split and model (mumo.steps.robustness)."""
    chart = robustness_chart(pd.read_csv(molecules_csv), pd.read_csv(summary_csv), preset)
    save_figure(chart, stem)
