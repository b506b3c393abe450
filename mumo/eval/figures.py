"""Figures from results/table.csv and the training logs (matplotlib, Agg backend, PNG and PDF side by side).

Drawn for a reader of the paper who never sees our internal names: models carry their display names
(`mumo.eval.names.display_name`), error axes their units, published numbers that do not exist say so, and a `*`
appears only beside a published number whose protocol differs from ours. Each chart returns its Figure so
that tests can read back what was drawn; `save_figure` writes it.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator  # noqa: E402

from mumo.catalog import ABLATIONS, MODELS, get_model  # noqa: E402
from mumo.eval.aggregate import headline_rows  # noqa: E402
from mumo.eval.compare import MODEL, NEITHER, REFERENCE  # noqa: E402
from mumo.eval.metrics import get_metric  # noqa: E402
from mumo.eval.names import display_name  # noqa: E402
from mumo.eval.robustness import CONFORMER_SEED  # noqa: E402
from mumo.io import atomic_path  # noqa: E402

#: the unit of each regression dataset's labels, which error metrics (RMSE, MAE) share
UNITS: dict[str, str] = {
    "esol": "log mol/L",
    "freesolv": "kcal/mol",
    "lipophilicity": "logD",
    "tdc_caco2_wang": "log cm/s",
    "tdc_lipophilicity_astrazeneca": "logD",
    "tdc_solubility_aqsoldb": "log mol/L",
    "tdc_ppbr_az": "% bound",
    "tdc_ld50_zhu": "−log mol/kg",
}
_ERROR_METRICS = {"rmse", "mae"}
#: the range of each bounded metric: its axis ends a label's width past the range, not at 1.6 times the
#: longest bar (an ROC-AUC axis running to 1.5 suggests scores above 1 exist)
BOUNDS: dict[str, tuple[float, float]] = {
    **dict.fromkeys(("roc_auc", "pr_auc", "accuracy", "f1"), (0.0, 1.0)),
    **dict.fromkeys(("pearson", "spearman"), (-1.0, 1.0)),
    "r2": (-math.inf, 1.0),
}
_LABEL_ROOM = 0.3  # of the drawn range: a value label's width on a 6-inch panel
PUBLISHED_MUMO = "MuMo (published)"
BEST_PUBLISHED = "Best other published"
NOT_PUBLISHED = "not published"
NO_SCORE = "no finite score"  # every seed's metric undefined (e.g. one class only in the test fold)
PROTOCOL_FOOTNOTE = (
    "* published protocol differs from ours (split, runs or tasks): see protocol_note in table.csv"
)
_COLOURS = {
    "mean": "#c7c7c7",
    "ecfp_rf": "tab:gray",
    "chemprop": "tab:olive",
    "mumo": "tab:blue",
    "ablation": "tab:purple",
}


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


def metric_name(metric: str, dataset: str) -> str:
    """The metric's label, with its unit where it has one (an error on a regression dataset we know)."""
    unit = f" ({UNITS[dataset]})" if metric in _ERROR_METRICS and dataset in UNITS else ""
    return f"{get_metric(metric).label}{unit}"


def axis_label(metric: str, dataset: str) -> str:
    """The metric, its unit where it has one and its direction."""
    return f"{metric_name(metric, dataset)}, {'higher' if get_metric(metric).higher_is_better else 'lower'} is better"


def _grid(heights: list[float], width: float = 6.0) -> tuple[plt.Figure, list[plt.Axes]]:
    """Up to two panels per row, each tall enough for its `heights` bars; unused panels are switched off."""
    columns = max(1, min(2, len(heights)))
    rows = max(1, math.ceil(len(heights) / columns))
    row_height = 1.3 + 0.32 * max(heights, default=1)
    fig, axes = plt.subplots(rows, columns, figsize=(width * columns, row_height * rows), squeeze=False)
    for ax in list(axes.flat)[len(heights) :]:
        ax.axis("off")
    return fig, list(axes.flat)[: len(heights)]


def _value_label(mean: float, std: float, n: float) -> str:
    spread = "" if pd.isna(std) else f" ± {std:.3f}"
    return f"{mean:.3f}{spread}  n={'?' if pd.isna(n) else int(n)}"


def _bars(ax: plt.Axes, bars: pd.DataFrame, metric: str, dataset: str, title: str) -> None:
    """Horizontal bars, first row on top, from columns model, label, mean, std, n, colour and missing; a row
    without a mean is drawn as a dashed box saying why (`missing`: "not published", "no finite score"). Labels
    sit beyond the end of the error bar, so they never cross it. A dotted line marks the mean baseline."""
    y = list(range(len(bars)))
    known = bars["mean"].notna().to_numpy()
    ends = (bars["mean"].abs() + bars["std"].fillna(0)).where(known)
    reach = float(ends.max()) if known.any() else 1.0
    ax.barh(
        np.flatnonzero(known),
        bars["mean"][known],
        xerr=bars["std"][known].fillna(0),
        color=bars["colour"][known],
        capsize=3,
        error_kw={"elinewidth": 0.8},
    )
    for i, row in enumerate(bars.itertuples(index=False)):
        if known[i]:
            end = row.mean + math.copysign(0 if pd.isna(row.std) else row.std, row.mean)
            ax.annotate(
                _value_label(row.mean, row.std, row.n),
                (end, i),
                xytext=(4 if row.mean >= 0 else -4, 0),
                textcoords="offset points",
                ha="left" if row.mean >= 0 else "right",
                va="center",
                fontsize=7,
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5},  # over the dotted line
            )
        else:
            ax.text(
                0.02 * reach,
                i,
                row.missing,
                va="center",
                fontsize=7,
                style="italic",
                color="dimgray",
                bbox={"facecolor": "white", "edgecolor": "gray", "linestyle": "--"},
            )
    negative = bars["mean"] < 0
    low = -float(ends[negative].max()) if negative.any() else 0.0
    # room for the value labels beyond the longest error bars; a bounded score's axis passes its bounds
    # only by that room and has no tick beyond them
    lower, upper = BOUNDS.get(metric, (-math.inf, math.inf))
    room = _LABEL_ROOM * (upper - min(low, 0.0))
    left, right = max(low * 1.6, min(lower, low) - room), min(reach * 1.6, max(upper, reach) + room)
    ax.set_xlim(left, right)
    shown = (max(lower, left) - 1e-9, min(upper, right) + 1e-9)
    ax.set_xticks([t for t in ax.get_xticks() if shown[0] <= t <= shown[1]])
    ax.set_yticks(y, bars["label"], fontsize=8)
    ax.set_ylim(len(bars) - 0.5, -0.5)  # first row on top; every row inside the axes, boxes included
    ax.set_xlabel(axis_label(metric, dataset), fontsize=8)
    ax.set_title(title, fontsize=10)
    if (bars["model"] == "mean").any():
        ax.axvline(bars.loc[bars["model"] == "mean", "mean"].iloc[0], color="black", ls=":", lw=0.8)


def _colour(model: str) -> str:
    if model in ABLATIONS:
        return _COLOURS["ablation"]
    return _COLOURS[get_model(model).kind]


def _ours(part: pd.DataFrame, preset: str) -> pd.DataFrame:
    """Our rows as bars in registry order (baselines, full MuMo models, then ablations)."""
    part = part.sort_values("model", key=lambda models: models.map(list(MODELS).index))
    return pd.DataFrame(
        {
            "model": part["model"].tolist(),
            "label": [display_name(m, preset) for m in part["model"]],
            "mean": part["mean"].tolist(),
            "std": part["std"].tolist(),
            "n": part["n_seeds"].tolist(),
            "colour": [_colour(m) for m in part["model"]],
            "missing": NO_SCORE,
        }
    )


def _panels(rows: pd.DataFrame) -> list[tuple[tuple[str, str], pd.DataFrame]]:
    if rows.empty:
        raise ValueError("the table has no headline-metric rows to plot")
    return list(rows.groupby(["dataset", "split"], sort=False))


def _title(dataset: str, split: str) -> str:
    return f"{dataset}, {split} split"


def _footnotes(fig: plt.Figure, lines: list[str]) -> None:
    fig.text(0.01, 0.0, "\n".join(lines), fontsize=7, va="top", ha="left")


_OURS_NOTE = "Bars: mean over independent seeds, error bars: sample std (ddof = 1), n: seeds."
_MEAN_LINE_NOTE = "Dotted line: the mean (dummy) baseline, which a model must beat to have learnt anything."


ONLY_ABLATIONS_NOTE = "None of ours: this run's models are all ablations (they have their own chart)."


def _ours_notes(table: pd.DataFrame, budget: str | None) -> list[str]:
    """The bars' footnotes: what a bar is, the mean line, and the MuMo training budget (a model trained for
    a few epochs must not read as one that does not work)."""
    mean_line = [_MEAN_LINE_NOTE] if (table["model"] == "mean").any() else []
    return [_OURS_NOTE, *mean_line, *([budget] if budget else [])]


def _bar_chart(
    panels: list[tuple[tuple[str, str], pd.DataFrame]], headline: dict[str, str], preset: str
) -> plt.Figure:
    fig, axes = _grid([len(part) for _, part in panels])
    for ax, ((dataset, split), part) in zip(axes, panels, strict=True):
        _bars(ax, _ours(part, preset), headline[dataset], dataset, _title(dataset, split))
    return fig


def metric_chart(
    table: pd.DataFrame, headline: dict[str, str], preset: str, budget: str | None = None
) -> plt.Figure:
    """One panel per dataset and split: its headline test metric, one bar per model of the table; `budget`
    (a line saying how MuMo was trained) becomes a footnote, as in the other table figures."""
    fig = _bar_chart(_panels(headline_rows(table, headline)), headline, preset)
    fig.suptitle("Test-set headline metric per dataset")
    fig.tight_layout()
    _footnotes(fig, _ours_notes(table, budget))
    return fig


def comparison_chart(
    table: pd.DataFrame, headline: dict[str, str], preset: str, budget: str | None = None
) -> plt.Figure:
    """Per dataset and split: our models (ablations aside), published MuMo and the best other published
    number, each drawn as "not published" where the source has none; `*` marks a published number whose
    protocol (`protocol_note`) differs from ours. A run of ablations only gets the published numbers, and a
    footnote saying why none of ours is there."""
    panels = _panels(headline_rows(table, headline))
    full = [part[~part["model"].isin(ABLATIONS)] for _, part in panels]
    fig, axes = _grid([len(part) + 2 for part in full])
    starred = False
    for ax, ((dataset, split), part), ours_rows in zip(axes, panels, full, strict=True):
        ours = _ours(ours_rows, preset)
        first = part.iloc[0]
        star = " *" if isinstance(first["protocol_note"], str) and first["protocol_note"] else ""
        published = []
        for label, column, detail, colour in (
            (PUBLISHED_MUMO, "published_mumo", None, "tab:orange"),
            (BEST_PUBLISHED, "best_published", "best_published_model", "tab:green"),
        ):
            present = pd.notna(first[column])
            name = f"{label}: {first[detail]}" if present and detail else label
            published.append(
                {
                    "model": "",
                    "label": name + (star if present else ""),
                    "mean": first[column],
                    "std": first[f"{column}_std"],
                    "n": first[f"{column}_n"],
                    "colour": colour,
                    "missing": NOT_PUBLISHED,
                }
            )
            starred |= bool(star) and present
        bars = pd.concat([ours, pd.DataFrame(published, columns=ours.columns)], ignore_index=True)
        _bars(ax, bars, headline[dataset], dataset, _title(dataset, split))
    fig.suptitle("Ours against published numbers")
    fig.tight_layout()
    notes = [
        *_ours_notes(table, budget),
        "Published: as printed, with the source's ± where given (n=?: runs not stated).",
    ]
    if table["model"].isin(ABLATIONS).all():
        notes.append(ONLY_ABLATIONS_NOTE)
    _footnotes(fig, notes + ([PROTOCOL_FOOTNOTE] if starred else []))
    return fig


def ablation_chart(
    table: pd.DataFrame, headline: dict[str, str], preset: str, budget: str | None = None
) -> plt.Figure:
    """Per dataset and split: every MuMo model in the table, full models first, then the ablations."""
    rows = headline_rows(table, headline)
    fig = _bar_chart(
        _panels(rows[rows["model"].map(lambda m: get_model(m).kind == "mumo")]), headline, preset
    )
    fig.suptitle("Ablations of MuMo: headline test metric")
    fig.tight_layout()
    _footnotes(fig, [_OURS_NOTE, *([budget] if budget else [])])
    return fig


TABLE_FIGURES = {"metrics": metric_chart, "comparison": comparison_chart, "ablations": ablation_chart}


_FOREST_COLOURS = {MODEL: "tab:blue", REFERENCE: "tab:red", NEITHER: "dimgray"}
FOREST_NOTE = (
    "Point: mean over seeds of the paired difference (each seed: both models trained and tested on the same "
    "split); bar: 95 % Student-t confidence interval (ddof = 1);\nn: paired seeds (no bar: fewer than 2). "
    "Blue: the first model better (interval above 0), red: the second better (below 0), grey: the interval "
    "includes 0 or there is none."
)
NO_PAIRS = "No pair of models to compare: no baseline with a finite score, no full MuMo model beside an ablation or Chemprop."


def _forest_label(n: int, has_interval: bool) -> str:
    return f"n={n}" if has_interval else f"n={n}, no CI"


def _forest(ax: plt.Axes, pairs: pd.DataFrame, preset: str, title: str) -> None:
    """One row per pair of `pairs` (rows of comparisons.csv, one dataset and split), first on top: the mean
    difference as a point, its confidence interval as a bar, n beyond the axes' right edge."""
    for i, row in enumerate(pairs.itertuples(index=False)):
        colour = _FOREST_COLOURS[row.better]
        has_interval = bool(np.isfinite([row.ci_low, row.ci_high]).all())
        if has_interval:
            error = [[row.mean_diff - row.ci_low], [row.ci_high - row.mean_diff]]
            ax.errorbar(row.mean_diff, i, xerr=error, fmt="o", ms=4, color=colour, capsize=3, elinewidth=1)
        elif np.isfinite(row.mean_diff):
            ax.plot(row.mean_diff, i, "o", ms=4, mfc="white", color=colour)
        else:
            ax.text(0, i, " no pair with finite scores", va="center", fontsize=7, style="italic")
        ax.annotate(
            _forest_label(row.n_pairs, has_interval),
            (1.0, i),
            xycoords=("axes fraction", "data"),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize=7,
        )
    ax.axvline(0, color="black", lw=0.8)
    ends = pairs[["mean_diff", "ci_low", "ci_high"]].to_numpy(float)
    low, high = min(0.0, np.nanmin(ends, initial=0.0)), max(0.0, np.nanmax(ends, initial=0.0))
    pad = 0.08 * (high - low) or 0.01
    ax.set_xlim(low - pad, high + pad)
    labels = [
        f"{display_name(m, preset)}\nvs {display_name(r, preset)}"
        for m, r in zip(pairs["model"], pairs["reference"], strict=True)
    ]
    ax.set_yticks(range(len(pairs)), labels, fontsize=7)
    ax.set_ylim(len(pairs) - 0.5, -0.5)
    first = pairs.iloc[0]
    order = "first − second" if first["direction"] == "higher" else "second − first"
    ax.set_xlabel(
        f"difference in {metric_name(first['metric'], first['dataset'])} ({order}): positive = first model better",
        fontsize=8,
    )
    ax.set_title(title, fontsize=10)


def forest_chart(comparisons: pd.DataFrame, preset: str) -> plt.Figure:
    """Paired comparisons (results/comparisons.csv), one panel per dataset and split, one row per pair: the
    mean difference and its 95 % confidence interval, a line at 0 (no difference)."""
    if comparisons.empty:
        fig, ax = plt.subplots(figsize=(6, 1.2))
        ax.axis("off")
        ax.text(0.5, 0.5, NO_PAIRS, ha="center", va="center", fontsize=8, wrap=True)
        return fig
    panels = list(comparisons.groupby(["dataset", "split"], sort=False))
    fig, axes = _grid([len(part) + 0.5 for _, part in panels], width=6.5)
    for ax, ((dataset, split), part) in zip(axes, panels, strict=True):
        _forest(ax, part, preset, _title(dataset, split))
    fig.suptitle("Paired differences over seeds on the headline test metric")
    fig.tight_layout()
    _footnotes(fig, [FOREST_NOTE])
    return fig


def smooth(values: pd.Series) -> pd.Series:
    """Exponential moving average over about 5 % of a run's steps (at least 5), so the trend shows through
    per-batch noise."""
    return values.ewm(span=max(5, len(values) // 20), adjust=False).mean()


def learning_curves(
    curves: dict[str, dict[str, str | Path]],
    title: str,
    preset: str,
    budgets: dict[str, str] | None = None,
) -> plt.Figure:
    """One panel per key of `curves` ({panel: {"<model> <detail>": training log CSV}}): training loss against
    optimizer step, raw (faint) and smoothed (`smooth`), and validation loss as markers where it was
    computed. The runs of one model (its seeds) share a colour and one legend entry. `budgets[panel]`, a
    line saying how long its runs trained, goes under the panel's title."""
    fig, axes = _grid([6] * len(curves), width=5.5)
    models = list(dict.fromkeys(label.split(" ")[0] for lines in curves.values() for label in lines))
    colours = {m: plt.get_cmap("tab10")(i % 10) for i, m in enumerate(models)}
    for ax, (panel, lines) in zip(axes, curves.items(), strict=True):
        shown = []
        for label, path in lines.items():
            frame = pd.read_csv(path)
            model = label.split(" ")[0]
            colour = colours[model]
            ax.plot(frame["step"], frame["loss"], lw=0.5, alpha=0.25, color=colour)
            ax.plot(frame["step"], smooth(frame["loss"]), lw=1.4, color=colour)
            valid = frame.dropna(subset=["valid_loss"])
            ax.plot(valid["step"], valid["valid_loss"], "o", ms=4, mec="black", mew=0.5, color=colour)
            shown.append(model)
        handles = [Line2D([], [], color=colours[m], lw=1.4) for m in dict.fromkeys(shown)]
        labels = [display_name(m, preset) for m in dict.fromkeys(shown)]
        handles += [
            Line2D([], [], color="gray", lw=0.5, alpha=0.4),
            Line2D([], [], color="gray", lw=1.4),
            Line2D([], [], color="gray", ls="none", marker="o", ms=4, mec="black", mew=0.5),
        ]
        labels += ["train loss, per step", "train loss, smoothed (EMA)", "validation loss"]
        ax.legend(handles, labels, fontsize=6)
        budget = (budgets or {}).get(panel)
        ax.set_title(f"{panel}\n{budget}" if budget else panel, fontsize=10)
        ax.set_xlabel("optimizer step")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("loss")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def robustness_chart(molecules: pd.DataFrame, summary: pd.DataFrame, preset: str) -> plt.Figure:
    """One panel per dataset and split: per model, its test molecules' prediction spread over the conformer
    seeds (population std over the reference and the other seeds, per molecule and task, pooled over the
    training seeds): a box (quartiles, whiskers at 1.5 IQR, outliers as points) and a black dot at the mean.
    Models are named as the reader knows them; the axis is in the prediction's units."""
    column = f"spread_{CONFORMER_SEED}"
    if column not in molecules.columns:
        raise ValueError("no spread over conformer seeds to draw (robustness.conformer_seeds is 0)")
    panels = list(molecules.groupby(["dataset", "split"], sort=False))
    fig, axes = _grid([part["model"].nunique() for _, part in panels])
    seed_rows = summary[summary["varied"] == CONFORMER_SEED]
    for ax, ((dataset, split), part) in zip(axes, panels, strict=True):
        models = sorted(part["model"].unique(), key=list(MODELS).index)
        spreads = [part.loc[part["model"] == m, column].dropna().to_numpy() for m in models]
        drawn = [i for i, values in enumerate(spreads) if len(values)]
        ax.boxplot([spreads[i] for i in drawn], positions=drawn, orientation="horizontal", widths=0.6,
                   flierprops={"markersize": 2, "alpha": 0.4})  # fmt: skip
        ax.plot([spreads[i].mean() for i in drawn], drawn, "o", color="black", ms=4)
        ax.set_yticks(range(len(models)), [display_name(m, preset) for m in models], fontsize=8)
        ax.set_ylim(len(models) - 0.5, -0.5)
        ax.xaxis.set_major_locator(MaxNLocator(5))
        ax.xaxis.set_major_formatter(
            FuncFormatter(lambda value, _: f"{value:.2g}")
        )  # no offset over the label
        ax.tick_params(axis="x", labelsize=7)
        runs = seed_rows[(seed_rows["dataset"] == dataset) & (seed_rows["split"] == split)]
        regression = (runs["task_type"] == "regression").any()
        unit = UNITS.get(dataset, "label units") if regression else "probability of class 1"
        ax.set_xlabel(
            f"prediction spread over {int(runs['n_sets'].max())} conformer seeds, std ({unit})", fontsize=8
        )
        fallback = part.loc[part["fallback_sets"].fillna("") != "", "canonical_smiles"].nunique()
        ax.set_title(
            f"{_title(dataset, split)}\n{fallback} of {part['canonical_smiles'].nunique()} test molecules 2D-only under some set",
            fontsize=9,
        )
    fig.suptitle("Sensitivity of test predictions to 3D conformer noise")
    fig.tight_layout()
    _footnotes(
        fig,
        [
            "Per molecule and task: std (ddof = 0) of the predictions over the run's conformer seed and the other "
            "seeds; pooled over training seeds.",
            "Box: quartiles, whiskers 1.5 IQR; dot: mean. A sequence-only model has no 3D input: its spread is 0.",
        ],
    )
    return fig
