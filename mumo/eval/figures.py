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
from mumo.models import ABLATIONS, get_model  # noqa: E402


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


def _grid(n_panels: int, width: float = 4.2, height: float = 3.2) -> tuple[plt.Figure, list[plt.Axes]]:
    """Up to three panels per row; panels beyond `n_panels` are switched off."""
    columns = max(1, min(3, n_panels))
    rows = max(1, math.ceil(n_panels / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(width * columns, height * rows), squeeze=False)
    for ax in list(axes.flat)[n_panels:]:
        ax.axis("off")
    return fig, list(axes.flat)[:n_panels]


def _bars(ax: plt.Axes, bars: pd.DataFrame, metric: str, title: str) -> None:
    """Bars with label, mean, std (sample; none where unknown), colour and n, annotated with mean and n."""
    ax.bar(
        bars["label"], bars["mean"], yerr=bars["std"].fillna(0), capsize=4, color=bars["color"], alpha=0.85
    )
    ax.margins(y=0.2)  # room for the annotations under the title
    spec = get_metric(metric)
    ax.set_title(title, fontsize=10)
    ax.set_ylabel(f"{spec.label} {'↑' if spec.higher_is_better else '↓'}")
    ax.tick_params(axis="x", labelsize=7, rotation=90)
    for x, (mean, n) in enumerate(zip(bars["mean"], bars["n"], strict=True)):
        n_text = "n=?" if pd.isna(n) else f"n={int(n)}"
        ax.annotate(
            f"{mean:.3f}\n{n_text}",
            (x, mean),
            ha="center",
            va="bottom",
            fontsize=6,
            xytext=(0, 3),
            textcoords="offset points",
        )


def _ours(part: pd.DataFrame, color: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "label": part["model"].tolist(),
            "mean": part["mean"].tolist(),
            "std": part["std"].tolist(),
            "n": part["n_seeds"].tolist(),
            "color": color,
        }
    )


def _panels(rows: pd.DataFrame) -> list[tuple[tuple[str, str], pd.DataFrame]]:
    if rows.empty:
        raise ValueError("the table has no headline-metric rows to plot")
    return list(rows.groupby(["dataset", "split"], sort=False))


def metric_chart(table: pd.DataFrame, headline: dict[str, str], stem: str | Path) -> list[Path]:
    """One panel per dataset and split: its headline metric, one bar per model, error bar = sample std."""
    panels = _panels(headline_rows(table, headline))
    fig, axes = _grid(len(panels))
    for ax, ((dataset, split), part) in zip(axes, panels, strict=True):
        _bars(ax, _ours(part.sort_values("model"), "tab:blue"), headline[dataset], f"{dataset} {split}")
    fig.suptitle("Test-set headline metric (mean ± sample std over seeds, n = seeds)")
    fig.tight_layout()
    return save_figure(fig, stem)


def comparison_chart(table: pd.DataFrame, headline: dict[str, str], stem: str | Path) -> list[Path]:
    """Per dataset and split: our models (ablations aside), published MuMo and the best other published
    number. Published bars carry the source's ± where it gives one; `protocol_note` in the table says how
    each published protocol differs from ours."""
    rows = headline_rows(table, headline)
    panels = _panels(rows[~rows["model"].isin(ABLATIONS)])
    fig, axes = _grid(len(panels), width=4.8)
    for ax, ((dataset, split), part) in zip(axes, panels, strict=True):
        part = part.sort_values("model")
        ours = _ours(part, [("tab:gray" if m == "ecfp_rf" else "tab:blue") for m in part["model"]])
        first = part.iloc[0]
        published = [
            ("published MuMo", "published_mumo", "published_mumo_split", "tab:orange"),
            ("best published", "best_published", "best_published_model", "tab:green"),
        ]
        extra = [
            {
                "label": f"{label}\n{first[detail]}",
                "mean": first[column],
                "std": first[f"{column}_std"],
                "n": first[f"{column}_n"],
                "color": color,
            }
            for label, column, detail, color in published
            if pd.notna(first[column])
        ]
        bars = pd.concat([ours, pd.DataFrame(extra, columns=ours.columns)], ignore_index=True)
        mark = " *" if first["protocol_note"] else ""
        _bars(ax, bars, headline[dataset], f"{dataset} {split}{mark}")
    fig.suptitle("Ours vs published (mean ± std; * = published protocol differs, see protocol_note)")
    fig.tight_layout()
    return save_figure(fig, stem)


def ablation_chart(table: pd.DataFrame, headline: dict[str, str], stem: str | Path) -> list[Path]:
    """Per dataset and split: every MuMo model in the table, full models first, then the ablations."""
    rows = headline_rows(table, headline)
    panels = _panels(rows[rows["model"].map(lambda m: get_model(m).kind == "mumo")])
    fig, axes = _grid(len(panels))
    for ax, ((dataset, split), part) in zip(axes, panels, strict=True):
        part = part.assign(ablation=part["model"].isin(ABLATIONS)).sort_values(["ablation", "model"])
        colors = ["tab:purple" if a else "tab:blue" for a in part["ablation"]]
        _bars(ax, _ours(part, colors), headline[dataset], f"{dataset} {split}")
    fig.suptitle("Ablations: headline test metric (mean ± sample std over seeds)")
    fig.tight_layout()
    return save_figure(fig, stem)


TABLE_FIGURES = {"metrics": metric_chart, "comparison": comparison_chart, "ablations": ablation_chart}


def learning_curves(curves: dict[str, dict[str, str | Path]], stem: str | Path, title: str) -> list[Path]:
    """One panel per key of `curves` ({panel: {"<model> <detail>": metrics.csv}}): training loss against
    optimizer step (solid) and validation loss where computed (dashed, dots). The runs of one model (its
    seeds) share a colour and one legend entry."""
    fig, axes = _grid(len(curves), width=4.6)
    models = list(dict.fromkeys(label.split(" ")[0] for lines in curves.values() for label in lines))
    colors = {m: plt.get_cmap("tab10")(i % 10) for i, m in enumerate(models)}
    for ax, (panel, lines) in zip(axes, curves.items(), strict=True):
        shown = set()
        for label, path in lines.items():
            frame = pd.read_csv(path)
            model = label.split(" ")[0]
            legend = model if model not in shown else "_nolegend_"
            shown.add(model)
            ax.plot(frame["step"], frame["loss"], lw=0.8, alpha=0.7, color=colors[model], label=legend)
            valid = frame.dropna(subset=["valid_loss"])
            if len(valid):
                ax.plot(valid["step"], valid["valid_loss"], "o--", ms=2, lw=0.8, color=colors[model])
        ax.set_title(panel, fontsize=10)
        ax.set_xlabel("optimizer step")
        ax.set_ylabel("loss")
        ax.legend(fontsize=6)
    fig.suptitle(f"{title} (solid: train loss; dashed: validation loss)")
    fig.tight_layout()
    return save_figure(fig, stem)
