import pandas as pd
import pytest

from mumo.eval.figures import TABLE_FIGURES, headline_rows, learning_curves
from mumo.eval.published import PUBLISHED_COLUMNS


def _table():
    table = pd.DataFrame(
        {
            "benchmark": "MoleculeNet",
            "dataset": ["a", "a", "b", "b", "b", "a", "a"],
            "task": ["y", "y", "t1", "t2", "macro", "y", "y"],
            "split": "scaffold",
            "model": ["ecfp_rf", "ecfp_rf", "ecfp_rf", "ecfp_rf", "ecfp_rf", "mumo", "mumo_seq_only"],
            "metric": ["rmse", "mae", "roc_auc", "roc_auc", "roc_auc", "rmse", "rmse"],
            "mean": [1.0, 0.8, 0.7, 0.6, 0.65, 0.9, 1.1],
            "std": [0.1, 0.1, 0.05, None, 0.02, 0.1, None],
            "n_seeds": [3, 3, 3, 3, 3, 3, 1],
        }
    )
    for column in PUBLISHED_COLUMNS:
        text = column.endswith(("_split", "_model", "_source"))
        table[column] = pd.Series(
            None if text else float("nan"), index=table.index, dtype=object if text else float
        )
    table["protocol_note"] = ""
    headline_a = (table["dataset"] == "a") & (table["metric"] == "rmse")
    table.loc[headline_a, ["published_mumo", "published_mumo_std", "published_mumo_n"]] = [0.5, 0.05, 3.0]
    table.loc[headline_a, ["best_published", "best_published_model"]] = [0.7, "GNN"]
    table.loc[headline_a, ["published_mumo_split", "protocol_note"]] = ["scaffold_mumo", "differs"]
    return table


def test_headline_rows_pick_the_headline_metric_and_the_macro_task():
    rows = headline_rows(_table(), {"a": "rmse", "b": "roc_auc"})
    assert rows[["dataset", "task", "model", "metric"]].values.tolist() == [
        ["a", "y", "ecfp_rf", "rmse"],
        ["b", "macro", "ecfp_rf", "roc_auc"],
        ["a", "y", "mumo", "rmse"],
        ["a", "y", "mumo_seq_only", "rmse"],
    ]


def _assert_png_and_pdf(paths, name):
    assert [p.name for p in paths] == [f"{name}.png", f"{name}.pdf"]
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and paths[0].stat().st_size > 10_000
    assert paths[1].read_bytes()[:5] == b"%PDF-" and paths[1].stat().st_size > 1_000


@pytest.mark.parametrize("name", list(TABLE_FIGURES))
def test_table_figures_write_png_and_pdf(tmp_path, name):
    paths = TABLE_FIGURES[name](_table(), {"a": "rmse", "b": "roc_auc"}, tmp_path / "fig" / name)
    _assert_png_and_pdf(paths, name)


def test_learning_curves_write_png_and_pdf(tmp_path):
    curves = {}
    for seed in (0, 1):
        path = tmp_path / f"seed{seed}.csv"
        pd.DataFrame(
            {"step": [1, 2, 3], "loss": [1.0, 0.8, 0.7 + seed / 10], "valid_loss": [None, 0.9, None]}
        ).to_csv(path, index=False)
        curves.setdefault("bbbp random", {})[f"mumo seed{seed}"] = path
    _assert_png_and_pdf(learning_curves(curves, tmp_path / "curves", "Finetuning"), "curves")
