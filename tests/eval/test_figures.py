import pandas as pd

from mumo.eval.figures import headline_rows, metric_chart


def _table():
    return pd.DataFrame(
        {
            "benchmark": "MoleculeNet",
            "dataset": ["a", "a", "b", "b", "b"],
            "task": ["y", "y", "t1", "t2", "macro"],
            "split": "scaffold",
            "model": ["ecfp_rf", "ecfp_rf", "ecfp_rf", "ecfp_rf", "ecfp_rf"],
            "metric": ["rmse", "mae", "roc_auc", "roc_auc", "roc_auc"],
            "mean": [1.0, 0.8, 0.7, 0.6, 0.65],
            "std": [0.1, 0.1, 0.05, None, 0.02],
            "n_seeds": 3,
        }
    )


def test_headline_rows_pick_the_headline_metric_and_the_macro_task():
    rows = headline_rows(_table(), {"a": "rmse", "b": "roc_auc"})
    assert rows[["dataset", "task", "metric"]].values.tolist() == [
        ["a", "y", "rmse"],
        ["b", "macro", "roc_auc"],
    ]


def test_metric_chart_writes_png_and_pdf(tmp_path):
    paths = metric_chart(_table(), {"a": "rmse", "b": "roc_auc"}, tmp_path / "fig" / "metrics")
    assert [p.name for p in paths] == ["metrics.png", "metrics.pdf"]
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert paths[1].read_bytes()[:5] == b"%PDF-"
