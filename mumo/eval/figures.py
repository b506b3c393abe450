"""Figures from results/table.csv (matplotlib, Agg backend, PNG and PDF side by side)."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from mumo.eval.metrics import get_metric  # noqa: E402
from mumo.io import atomic_path  # noqa: E402


def save_figure(fig: plt.Figure, stem: str | Path) -> list[Path]:
    """Write stem.png and stem.pdf; return both paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".pdf")]
    for path in paths:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=150, bbox_inches="tight", format=path.suffix[1:])
    plt.close(fig)
    return paths


def headline_rows(table: pd.DataFrame, headline: dict[str, str]) -> pd.DataFrame:
    """Per dataset, the rows of its headline metric on its summary task (macro for multi-task data)."""
    rows = table[table["metric"] == table["dataset"].map(headline)]
    multi = rows.groupby("dataset")["task"].transform(lambda t: "macro" in set(t))
    return rows[~multi | (rows["task"] == "macro")]


def metric_chart(table: pd.DataFrame, headline: dict[str, str], stem: str | Path) -> list[Path]:
    """One panel per dataset: its headline metric, one bar per model and split, error bar = sample std."""
    rows = headline_rows(table, headline)
    datasets = list(dict.fromkeys(rows["dataset"]))
    if not datasets:
        raise ValueError("the table has no headline-metric rows to plot")
    columns = min(3, len(datasets))
    fig, axes = plt.subplots(
        math.ceil(len(datasets) / columns),
        columns,
        figsize=(4.2 * columns, 3.2 * math.ceil(len(datasets) / columns)),
        squeeze=False,
    )
    for ax, dataset in zip(axes.flat, datasets, strict=False):
        part = rows[rows["dataset"] == dataset].sort_values(["split", "model"])
        labels = [f"{m}\n{s}" for m, s in zip(part["model"], part["split"], strict=True)]
        ax.bar(labels, part["mean"], yerr=part["std"].fillna(0), capsize=4, color="tab:blue", alpha=0.8)
        metric = get_metric(headline[dataset])
        arrow = "↑" if metric.higher_is_better else "↓"
        ax.set_title(f"{dataset} ({part['task'].iloc[0]})", fontsize=10)
        ax.set_ylabel(f"{metric.label} {arrow}")
        ax.tick_params(axis="x", labelsize=8)
        for x, (mean, n) in enumerate(zip(part["mean"], part["n_seeds"], strict=True)):
            ax.annotate(
                f"{mean:.3f}\nn={n}",
                (x, mean),
                ha="center",
                va="bottom",
                fontsize=7,
                xytext=(0, 3),
                textcoords="offset points",
            )
    for ax in list(axes.flat)[len(datasets) :]:
        ax.axis("off")
    fig.suptitle("Test-set headline metric per dataset (mean ± sample std over seeds)")
    fig.tight_layout()
    return save_figure(fig, stem)
