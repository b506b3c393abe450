import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import LineCollection

from mumo.eval.figures import (
    BEST_PUBLISHED,
    NO_SCORE,
    NOT_PUBLISHED,
    PROTOCOL_FOOTNOTE,
    PUBLISHED_MUMO,
    TABLE_FIGURES,
    axis_label,
    comparison_chart,
    headline_rows,
    learning_curves,
    metric_chart,
    save_figure,
    smooth,
)
from mumo.eval.published import PUBLISHED_COLUMNS

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
