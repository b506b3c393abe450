import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import LineCollection

from mumo.eval.compare import paired_comparisons
from mumo.eval.figures import (
    BEST_PUBLISHED,
    BOUNDS,
    FOREST_NOTE,
    NO_PAIRS,
    NO_SCORE,
    NOT_PUBLISHED,
    PROTOCOL_FOOTNOTE,
    PUBLISHED_MUMO,
    TABLE_FIGURES,
    ablation_chart,
    axis_label,
    comparison_chart,
    forest_chart,
    headline_rows,
    learning_curves,
    metric_chart,
    robustness_chart,
    save_figure,
    smooth,
)
from mumo.eval.published import PUBLISHED_COLUMNS
from mumo.train.training_log import plot_learning_curve

HEADLINE = {"freesolv": "rmse", "tox21": "roc_auc"}
SMALL = "MuMo small (CPU demo, 3.3 M)"


def _table(note: str = "differs"):
    """freesolv: four models with published numbers beside them; tox21: ECFP+RF alone, nothing published."""
    table = pd.DataFrame(
        {
            "benchmark": "MoleculeNet",
            "dataset": ["freesolv"] * 2 + ["tox21"] * 3 + ["freesolv"] * 3,
            "task": ["expt", "expt", "t1", "t2", "macro", "expt", "expt", "expt"],
            "split": "scaffold",
            "model": ["ecfp_rf", "ecfp_rf", "ecfp_rf", "ecfp_rf", "ecfp_rf", "mumo_seq_only", "mumo", "mean"],
            "metric": ["rmse", "mae", "roc_auc", "roc_auc", "roc_auc", "rmse", "rmse", "rmse"],
            "mean": [2.1, 1.4, 0.7, 0.6, 0.65, 2.5, 2.3, 3.9],
            "std": [0.1, 0.1, 0.05, None, 0.02, None, 0.2, 0.3],
            "n_seeds": [3, 3, 3, 3, 3, 1, 3, 3],
        }
    )
    for column in PUBLISHED_COLUMNS:
        text = column.endswith(("_split", "_model", "_source"))
        table[column] = pd.Series(
            None if text else float("nan"), index=table.index, dtype=object if text else float
        )
    table["protocol_note"] = ""
    published = (table["dataset"] == "freesolv") & (table["metric"] == "rmse")
    table.loc[published, ["published_mumo", "published_mumo_std", "published_mumo_n"]] = [1.2, 0.05, 3.0]
    table.loc[published, ["best_published", "best_published_model"]] = [1.1, "GNN"]
    table.loc[published, ["published_mumo_split", "protocol_note"]] = ["scaffold_mumo", note]
    return table


def _panel(fig, title):
    return next(ax for ax in fig.axes if ax.get_title() == title)


def _ticks(ax):
    return [t.get_text() for t in ax.get_yticklabels()]


def _all_text(fig):
    texts = [t.get_text() for t in fig.texts] + [fig._suptitle.get_text()]
    for ax in fig.axes:
        texts += [t.get_text() for t in ax.texts] + _ticks(ax) + [ax.get_title(), ax.get_xlabel()]
    return texts


def test_headline_rows_pick_the_headline_metric_and_the_macro_task():
    rows = headline_rows(_table(), HEADLINE)
    assert rows[["dataset", "task", "model"]].values.tolist() == [
        ["freesolv", "expt", "ecfp_rf"],
        ["tox21", "macro", "ecfp_rf"],
        ["freesolv", "expt", "mumo_seq_only"],
        ["freesolv", "expt", "mumo"],
        ["freesolv", "expt", "mean"],
    ]


def test_metric_chart_draws_the_tables_means_under_display_names_with_units():
    fig = metric_chart(_table(), HEADLINE, "small")
    ax = _panel(fig, "freesolv, scaffold split")
    # registry order: baselines first, then MuMo, then its ablations
    assert _ticks(ax) == ["Mean (dummy)", "ECFP4 + RF", SMALL, f"{SMALL}: sequence only"]
    assert [p.get_width() for p in ax.patches] == [3.9, 2.1, 2.3, 2.5]
    assert ax.get_xlabel() == "RMSE (kcal/mol), lower is better"
    assert _panel(fig, "tox21, scaffold split").get_xlabel() == "ROC-AUC, higher is better"
    assert [line.get_xdata()[0] for line in ax.get_lines() if line.get_linestyle() == ":"] == [3.9]


def test_chemprop_is_drawn_under_its_name_among_the_baselines_in_both_table_figures():
    table = _table()
    chemprop = table[table["model"] == "mumo"].assign(model="chemprop", mean=1.9, std=0.1)
    table = pd.concat([table, chemprop], ignore_index=True)
    for chart in (metric_chart, comparison_chart):
        ax = _panel(chart(table, HEADLINE, "small"), "freesolv, scaffold split")
        ours = [label for label in _ticks(ax) if label not in (PUBLISHED_MUMO, BEST_PUBLISHED)]
        assert ours[:3] == ["Mean (dummy)", "ECFP4 + RF", "Chemprop (D-MPNN)"]


@pytest.mark.parametrize("chart", [metric_chart, comparison_chart, ablation_chart])
def test_table_figures_footnote_the_training_budget(chart):
    budget = "MuMo small: finetuned ≤30 epochs, lr 0.001, early stopping on the validation loss"
    footnote = chart(_table(), HEADLINE, "small", budget).texts[-1].get_text()
    assert budget in footnote.splitlines()
    assert "finetuned" not in chart(_table(), HEADLINE, "small").texts[-1].get_text()


def test_the_mean_baseline_line_is_explained_only_when_drawn():
    with_mean = metric_chart(_table(), HEADLINE, "small")
    assert "Dotted line" in with_mean.texts[-1].get_text()
    table = _table()
    without_mean = metric_chart(table[table["model"] != "mean"], HEADLINE, "small")
    assert "Dotted line" not in without_mean.texts[-1].get_text()
    assert not any(line.get_linestyle() == ":" for ax in without_mean.axes for line in ax.get_lines())


def test_a_model_without_a_finite_score_says_so_rather_than_vanishing():
    table = _table()
    table.loc[table["model"] == "mumo", ["mean", "std"]] = float("nan")
    ax = _panel(metric_chart(table, HEADLINE, "small"), "freesolv, scaffold split")
    assert SMALL in _ticks(ax) and [t.get_text() for t in ax.texts].count(NO_SCORE) == 1
    assert NOT_PUBLISHED not in [t.get_text() for t in ax.texts]


def test_value_labels_sit_beyond_the_error_bars():
    ax = _panel(metric_chart(_table(), HEADLINE, "small"), "freesolv, scaffold split")
    (errors,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    error_end = {round(seg[0][1]): max(seg[:, 0]) for seg in errors.get_segments()}
    labels = {round(a.xy[1]): a for a in ax.texts}
    assert sorted(labels) == [0, 1, 2, 3]
    for y, label in labels.items():
        assert label.xy[0] >= error_end.get(y, 0) - 1e-9 and label.get_ha() == "left"
        assert label.xyann[0] > 0  # offset to the right of the anchor
    assert labels[0].get_text() == "3.900 ± 0.300  n=3" and labels[3].get_text() == "2.500  n=1"


def test_comparison_marks_missing_published_numbers_and_stars_only_differing_protocols():
    fig = comparison_chart(_table(), HEADLINE, "small")
    freesolv = _panel(fig, "freesolv, scaffold split")
    assert _ticks(freesolv)[-2:] == [f"{PUBLISHED_MUMO} *", f"{BEST_PUBLISHED}: GNN *"]
    assert [p.get_width() for p in freesolv.patches][-2:] == [1.2, 1.1]
    assert f"{SMALL}: sequence only" not in _ticks(freesolv)  # ablations have their own chart
    tox21 = _panel(fig, "tox21, scaffold split")
    assert _ticks(tox21) == ["ECFP4 + RF", PUBLISHED_MUMO, BEST_PUBLISHED]
    assert [t.get_text() for t in tox21.texts].count(NOT_PUBLISHED) == 2
    assert len(tox21.patches) == 1  # the missing numbers are not drawn as bars
    assert PROTOCOL_FOOTNOTE in fig.texts[-1].get_text()

    same_protocol = comparison_chart(_table(note=""), HEADLINE, "small")
    assert not any("*" in text for text in _all_text(same_protocol))


@pytest.mark.parametrize(
    ("metric", "dataset", "label"),
    [
        ("rmse", "esol", "RMSE (log mol/L), lower is better"),
        ("mae", "lipophilicity", "MAE (logD), lower is better"),
        ("r2", "freesolv", "R², higher is better"),
        ("rmse", "my_own_data", "RMSE, lower is better"),
    ],
)
def test_axis_labels_carry_units_on_error_metrics(metric, dataset, label):
    assert axis_label(metric, dataset) == label


def test_figures_name_the_mumo_model_by_the_configs_preset():
    fig = metric_chart(_table(), HEADLINE, "paper")
    assert "MuMo (paper preset, 438 M)" in _ticks(_panel(fig, "freesolv, scaffold split"))


def test_learning_curves_smooth_training_loss_and_mark_validation_without_joining_it(tmp_path):
    curves = {}
    for seed in (0, 1):
        path = tmp_path / f"seed{seed}.csv"
        loss = np.linspace(2.0, 0.5, 40) + np.resize([0.3, -0.3], 40) + seed / 10
        valid = [np.nan] * 40
        valid[19], valid[39] = 1.0, 0.8
        pd.DataFrame({"step": range(1, 41), "loss": loss, "valid_loss": valid}).to_csv(path, index=False)
        curves.setdefault("bbbp, random split", {})[f"mumo seed{seed}"] = path
    fig = learning_curves(curves, "Finetuning", "small")
    (ax,) = fig.axes
    raw, smoothed, validation = ax.get_lines()[:3]
    frame = pd.read_csv(tmp_path / "seed0.csv")
    np.testing.assert_allclose(smoothed.get_ydata(), smooth(frame["loss"]))
    assert np.std(np.diff(smoothed.get_ydata())) < np.std(np.diff(raw.get_ydata())) / 3
    assert raw.get_alpha() < 0.5 and smoothed.get_alpha() is None
    assert validation.get_linestyle() == "None" and validation.get_marker() == "o"
    assert list(validation.get_xdata()) == [20, 40]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[0] == SMALL and legend.count(SMALL) == 1 and "validation loss" in legend


@pytest.mark.parametrize("name", list(TABLE_FIGURES))
def test_table_figures_save_as_png_and_pdf(tmp_path, name):
    paths = save_figure(TABLE_FIGURES[name](_table(), HEADLINE, "small"), tmp_path / "fig" / name)
    assert [p.name for p in paths] == [f"{name}.png", f"{name}.pdf"]
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and paths[1].read_bytes()[:5] == b"%PDF-"


def _error_bars(ax):
    """{row: (left end, right end)} of the panel's error bars."""
    (errors,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    return {round(seg[0][1]): (min(seg[:, 0]), max(seg[:, 0])) for seg in errors.get_segments()}


def test_comparison_bars_and_error_bars_are_the_tables_numbers():
    ax = _panel(comparison_chart(_table(), HEADLINE, "small"), "freesolv, scaffold split")
    assert _ticks(ax) == [
        "Mean (dummy)",
        "ECFP4 + RF",
        SMALL,
        f"{PUBLISHED_MUMO} *",
        f"{BEST_PUBLISHED}: GNN *",
    ]
    assert [p.get_width() for p in ax.patches] == [3.9, 2.1, 2.3, 1.2, 1.1]
    spread = {row: right - left for row, (left, right) in _error_bars(ax).items()}
    # the best published number has no std: its error bar has no length
    np.testing.assert_allclose([spread[row] / 2 for row in range(5)], [0.3, 0.1, 0.2, 0.05, 0.0], atol=1e-12)
    labels = sorted(ax.texts, key=lambda a: a.xy[1])
    assert [a.get_text() for a in labels][-2:] == ["1.200 ± 0.050  n=3", "1.100  n=?"]


def test_every_table_figure_has_its_title_and_footnotes():
    titles = {
        "metrics": "Test-set headline metric per dataset",
        "comparison": "Ours against published numbers",
        "ablations": "Ablations of MuMo: headline test metric",
    }
    for name, chart in TABLE_FIGURES.items():
        fig = chart(_table(), HEADLINE, "small")
        assert fig._suptitle.get_text() == titles[name]
        assert fig.texts[-1].get_text().startswith("Bars: mean over independent seeds")


def test_ablation_chart_holds_mumo_models_only_full_model_first():
    fig = ablation_chart(_table(), HEADLINE, "small")
    (ax,) = [ax for ax in fig.axes if ax.axison]  # tox21 has no MuMo row: no panel
    assert ax.get_title() == "freesolv, scaffold split"
    assert _ticks(ax) == [SMALL, f"{SMALL}: sequence only"]
    assert [p.get_width() for p in ax.patches] == [2.3, 2.5]
    assert [c for c in ax.patches[0].get_facecolor()] != [c for c in ax.patches[1].get_facecolor()]
    assert "Dotted line" not in fig.texts[-1].get_text()


def test_a_table_without_headline_rows_is_an_error_not_an_empty_figure():
    with pytest.raises(ValueError, match="no headline-metric rows"):
        metric_chart(_table(), {"freesolv": "r2", "tox21": "pr_auc"}, "small")


def _tox21_macro(metric, mean, std):
    """The table with tox21's headline (its macro row) scored by `metric`."""
    table = _table()
    tox21 = table["dataset"] == "tox21"
    table.loc[tox21, "metric"] = metric
    table.loc[tox21 & (table["task"] == "macro"), ["mean", "std"]] = [mean, std]
    return table, {**HEADLINE, "tox21": metric}


@pytest.mark.parametrize("chart", [metric_chart, comparison_chart])
def test_a_bounded_score_axis_stops_near_its_bound(chart):
    """ROC-AUC near 1 once drew an axis to 1.55 with ticks at 1.2 and 1.4."""
    table, headline = _tox21_macro("roc_auc", 0.95, 0.02)
    fig = chart(table, headline, "small")
    ax = _panel(fig, "tox21, scaffold split")
    left, right = ax.get_xlim()
    assert left == 0 and 1.0 < right <= 1.0 + 0.35  # room for the value label, no more
    assert max(ax.get_xticks()) == pytest.approx(1.0) and min(ax.get_xticks()) == 0
    assert _error_bars(ax)[0] == pytest.approx((0.93, 0.97))
    # an unbounded error metric keeps its room: 1.6 times the longest error bar
    assert _panel(fig, "freesolv, scaffold split").get_xlim() == pytest.approx((0, 1.6 * 4.2))


def test_a_correlation_axis_stays_within_minus_one_and_one():
    table, headline = _tox21_macro("pearson", -0.97, 0.05)
    ax = _panel(metric_chart(table, headline, "small"), "tox21, scaffold split")
    left, right = ax.get_xlim()
    assert -1.0 - 0.7 <= left < -1.02 and right <= 1.0 + 0.7  # the error bar reaches -1.02
    assert min(ax.get_xticks()) == pytest.approx(-1.0) and max(ax.get_xticks()) <= 1.0 + 1e-9
    assert set(BOUNDS) >= {"roc_auc", "pr_auc", "accuracy", "f1", "r2", "pearson", "spearman"}


def _metrics_csv(path, steps=12, valid_every=4):
    frame = pd.DataFrame(
        {
            "step": range(1, steps + 1),
            "loss": np.linspace(3.0, 1.0, steps),
            "lr": np.linspace(1e-3, 1e-4, steps),
            "valid_loss": [2.0 - s / 10 if s % valid_every == 0 else np.nan for s in range(1, steps + 1)],
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return frame


def test_plot_learning_curve_draws_loss_validation_and_learning_rate(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    closed = []
    monkeypatch.setattr(plt, "close", closed.append)  # keep the figure to read it back
    frame = _metrics_csv(tmp_path / "training_log.csv")
    plot_learning_curve(tmp_path / "training_log.csv", tmp_path / "curve.png", title="bbbp seed0")
    (fig,) = closed
    ax, lr_ax = fig.axes
    assert ax.get_title() == "bbbp seed0"
    assert (ax.get_xlabel(), ax.get_ylabel(), lr_ax.get_ylabel()) == (
        "optimizer step",
        "loss",
        "learning rate",
    )
    train, valid = ax.get_lines()
    np.testing.assert_allclose(train.get_ydata(), frame["loss"])
    assert list(valid.get_xdata()) == [4, 8, 12]
    np.testing.assert_allclose(valid.get_ydata(), [1.6, 1.2, 0.8])
    np.testing.assert_allclose(lr_ax.get_lines()[0].get_ydata(), frame["lr"])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["train loss", "valid loss", "lr"]
    assert (tmp_path / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _robustness_molecules() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-molecule spreads of two models on a classification and a regression dataset; one 2D-only molecule."""
    rng = np.random.default_rng(0)
    rows = []
    for dataset, scale in (("bbbp", 0.02), ("esol", 0.1)):
        for model in ("mumo_seq_only", "mumo"):
            for i in range(30):
                spread = 0.0 if model == "mumo_seq_only" else abs(rng.normal(0, scale))
                fallback = "seed43-n1" if i == 0 else ""
                rows.append((dataset, "random", model, 0, f"m{i}", f"C{'C' * i}", spread, fallback))
    molecules = pd.DataFrame(
        rows,
        columns=[
            "dataset",
            "split",
            "model",
            "seed",
            "mol_id",
            "canonical_smiles",
            "spread_conformer_seed",
            "fallback_sets",
        ],
    )
    summary = pd.DataFrame(
        {
            "dataset": ["bbbp", "esol"],
            "split": "random",
            "varied": "conformer_seed",
            "n_sets": 5,
            "task_type": ["classification", "regression"],
        }
    )
    return molecules, summary


def test_robustness_chart_names_models_and_units_and_counts_2d_molecules(tmp_path):
    molecules, summary = _robustness_molecules()
    fig = robustness_chart(molecules, summary, "small")
    bbbp, esol = fig.axes
    assert [t.get_text() for t in bbbp.get_yticklabels()] == [
        "MuMo small (CPU demo, 3.3 M)",
        "MuMo small (CPU demo, 3.3 M): sequence only",
    ]
    assert bbbp.get_xlabel() == "prediction spread over 5 conformer seeds, std (probability of class 1)"
    assert esol.get_xlabel() == "prediction spread over 5 conformer seeds, std (log mol/L)"
    assert "1 of 30 test molecules 2D-only" in bbbp.get_title()
    # the black dots are the means: the sequence-only model's at exactly 0
    means = bbbp.lines[-1].get_xdata()
    assert means[1] == 0.0 and means[0] == pytest.approx(
        molecules.query("dataset == 'bbbp' and model == 'mumo'")["spread_conformer_seed"].mean()
    )
    save_figure(fig, tmp_path / "robustness")
    assert (tmp_path / "robustness.png").stat().st_size > 10_000


def test_robustness_chart_needs_a_spread_over_seeds():
    molecules, summary = _robustness_molecules()
    with pytest.raises(ValueError, match="conformer_seeds is 0"):
        robustness_chart(molecules.drop(columns="spread_conformer_seed"), summary, "small")


def _comparisons() -> pd.DataFrame:
    """comparisons.csv's rows: bbbp (ROC-AUC) with MuMo clearly above ECFP+RF, freesolv (RMSE) with MuMo's
    sequence-only ablation on one seed only."""
    values = {
        ("bbbp", "roc_auc"): {"ecfp_rf": [0.80, 0.81, 0.82], "mumo": [0.84, 0.86, 0.88]},
        ("freesolv", "rmse"): {"ecfp_rf": [2.0, 2.2, 2.1], "mumo": [2.5, 2.6, 2.9], "mumo_seq_only": [2.4]},
    }
    scores = pd.DataFrame(
        [
            {"dataset": d, "split": "scaffold", "task": "y", "metric": metric, "model": model, "seed": seed}
            | {"fold": "test", "value": value}
            for (d, metric), models in values.items()
            for model, seeds in models.items()
            for seed, value in enumerate(seeds)
        ]
    )
    return paired_comparisons(scores, {"bbbp": "roc_auc", "freesolv": "rmse"}, "small")


def _intervals(ax) -> list[tuple[float, float]]:
    """(left, right) of every horizontal error bar of the panel, top row first."""
    bars = [seg for c in ax.collections if isinstance(c, LineCollection) for seg in c.get_segments()]
    return [(min(seg[:, 0]), max(seg[:, 0])) for seg in sorted(bars, key=lambda seg: seg[0][1])]


def test_forest_chart_draws_each_pairs_interval_with_n_and_a_line_at_zero():
    comparisons = _comparisons()
    fig = forest_chart(comparisons, "small")
    assert [ax.get_title() for ax in fig.axes] == ["bbbp, scaffold split", "freesolv, scaffold split"]
    bbbp, freesolv = fig.axes
    assert _ticks(bbbp) == [f"{SMALL}\nvs ECFP4 + RF"]
    assert bbbp.get_xlabel() == "difference in ROC-AUC (first − second): positive = first model better"
    row = comparisons.iloc[0]
    assert _intervals(bbbp) == [pytest.approx((row["ci_low"], row["ci_high"]))]
    assert row["ci_low"] > 0 and bbbp.get_lines()[0].get_color() == "tab:blue"  # MuMo better
    assert any(list(line.get_xdata()) == [0, 0] for line in bbbp.get_lines())
    assert bbbp.get_xlim()[0] < 0 < row["ci_high"] < bbbp.get_xlim()[1]
    assert [t.get_text() for t in bbbp.texts] == ["n=3"]

    assert _ticks(freesolv) == [
        f"{SMALL}\nvs ECFP4 + RF",
        f"{SMALL}: sequence only\nvs ECFP4 + RF",
        f"{SMALL}\nvs {SMALL}: sequence only",
    ]
    assert freesolv.get_xlabel() == (
        "difference in RMSE (kcal/mol) (second − first): positive = first model better"
    )
    # MuMo's larger RMSE: a negative difference, ECFP+RF (the reference) better, drawn red; one pair: no bar
    assert _intervals(freesolv)[0][1] < 0 and freesolv.get_lines()[0].get_color() == "tab:red"
    assert len(_intervals(freesolv)) == 1
    assert [t.get_text() for t in freesolv.texts] == ["n=3", "n=1, no CI", "n=1, no CI"]
    assert fig.texts[-1].get_text() == FOREST_NOTE


def test_forest_chart_without_pairs_says_so():
    fig = forest_chart(_comparisons().iloc[0:0], "small")
    assert [t.get_text() for ax in fig.axes for t in ax.texts] == [NO_PAIRS]
