import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mumo.steps.figures as figure_steps
from mumo.eval.aggregate import aggregate
from mumo.eval.compare import paired_comparisons
from mumo.eval.figures import save_figure

SMALL = "MuMo small (CPU demo, 3.3 M)"
SEEDS = {"mean": [0.5, 0.5], "ecfp_rf": [0.8, 0.84], "mumo": [0.86, 0.9], "mumo_seq_only": [0.7, 0.74]}


def _table_csv(path: Path, seeds: dict[str, list[float]] = SEEDS) -> Path:
    """results/table.csv as the aggregate step makes it: bbbp's test ROC-AUC over two seeds per model."""
    scores = pd.DataFrame(
        [
            {
                "benchmark": "MoleculeNet",
                "dataset": "bbbp",
                "task": "p_np",
                "split": "scaffold",
                "seed": seed,
                "model": model,
                "metric": "roc_auc",
                "fold": "test",
                "value": value,
                "n_train": 80,
                "n_valid": 10,
                "n_test": 10,
            }
            for model, values in seeds.items()
            for seed, value in enumerate(values)
        ]
    )
    aggregate(scores).to_csv(path, index=False)
    return path


def _metrics_csv(path: Path, steps: int = 12, summary: dict | None = None) -> pd.DataFrame:
    """A run's metrics.csv (4 steps per epoch) and, given `summary`, its summary.json."""
    frame = pd.DataFrame(
        {
            "step": range(1, steps + 1),
            "epoch": [s / 4 for s in range(1, steps + 1)],
            "loss": np.linspace(3.0, 1.0, steps),
            "valid_loss": [2.0 - s / 10 if s % 4 == 0 else np.nan for s in range(1, steps + 1)],
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    if summary is not None:
        (path.parent / "summary.json").write_text(json.dumps(summary))
    return frame


@pytest.fixture
def saved(monkeypatch):
    """The figures the figure steps save, with their stems (the files are written too)."""
    figures = []

    def keep(fig, stem):
        figures.append((fig, Path(stem)))
        return save_figure(fig, stem)

    monkeypatch.setattr(figure_steps, "save_figure", keep)
    return figures


def _figures(tmp_path: Path, stem: Path, *, figure: str, preset: str) -> None:
    """The figure step on a table of bbbp's headline metric."""
    figure_steps.figures(
        table_csv=str(_table_csv(tmp_path / "table.csv")),
        headline={"bbbp": "roc_auc"},
        stem=str(stem),
        figure=figure,
        preset=preset,
    )


def _ticks(ax):
    return [t.get_text() for t in ax.get_yticklabels()]


def test_comparison_figure_of_the_table_file_holds_ours_and_the_published_numbers(tmp_path, saved):
    _figures(tmp_path, tmp_path / "figures" / "comparison", figure="comparison", preset="paper")
    ((fig, stem),) = saved
    (ax,) = fig.axes
    assert fig._suptitle.get_text() == "Ours against published numbers"
    assert ax.get_title() == "bbbp, scaffold split" and ax.get_xlabel() == "ROC-AUC, higher is better"
    table = pd.read_csv(tmp_path / "table.csv").iloc[0]
    assert _ticks(ax) == [
        "Mean (dummy)",
        "ECFP4 + RF",
        "MuMo (paper preset, 438 M)",
        "MuMo (published) *",
        "Best other published: MolBERT [MuMo table] *",
    ]  # the ablation has a figure of its own
    widths = [p.get_width() for p in ax.patches]
    np.testing.assert_allclose(widths[:3], [0.5, 0.82, 0.88])
    assert widths[3:] == [table["published_mumo"], table["best_published"]]
    assert ax.get_xlim()[1] <= 1.3 and max(ax.get_xticks()) == pytest.approx(1.0)
    assert stem == tmp_path / "figures" / "comparison"
    assert (tmp_path / "figures" / "comparison.png").stat().st_size > 0
    assert (tmp_path / "figures" / "comparison.pdf").stat().st_size > 0


def test_ablation_figure_of_the_table_file(tmp_path, saved):
    _figures(tmp_path, tmp_path / "ablations", figure="ablations", preset="small")
    ((fig, _stem),) = saved
    (ax,) = fig.axes
    assert _ticks(ax) == [SMALL, f"{SMALL}: sequence only"]
    np.testing.assert_allclose([p.get_width() for p in ax.patches], [0.88, 0.72])


def test_a_run_of_ablations_only_gets_every_figure(tmp_path, saved):
    """A config whose models are all ablations used to fail at the comparison figure (exit 1)."""
    table = _table_csv(tmp_path / "table.csv", {"mumo_seq_only": [0.7, 0.74], "mumo_no_geometry": [0.8, 0.8]})
    for figure in ("metrics", "comparison", "ablations"):
        figure_steps.figures(str(table), {"bbbp": "roc_auc"}, str(tmp_path / figure), figure, "small")
        assert (tmp_path / f"{figure}.png").stat().st_size > 0
    comparison = saved[1][0]
    (ax,) = comparison.axes
    assert _ticks(ax) == ["MuMo (published) *", "Best other published: MolBERT [MuMo table] *"]
    assert "this run's models are all ablations" in comparison.texts[-1].get_text()


def test_an_unknown_figure_name_is_a_key_error(tmp_path):
    with pytest.raises(KeyError, match="histogram"):
        _figures(tmp_path, tmp_path / "x", figure="histogram", preset="small")


def test_pretrain_curves_have_one_panel_per_model_named_for_readers(tmp_path, saved):
    paths = [tmp_path / "pretrain" / model / "training_log.csv" for model in ("mumo", "mumo_no_geometry")]
    summary = {"train": 2850, "steps": 12, "settings": {"epochs": 3}}
    frames = [_metrics_csv(path, summary=summary if i else None) for i, path in enumerate(paths)]
    figure_steps.pretrain_curves(
        training_logs=[str(p) for p in paths], stem=str(tmp_path / "pre"), preset="small"
    )
    ((fig, stem),) = saved
    assert fig._suptitle.get_text() == "Pretraining (masked-token loss)"
    # the budget from the run's summary.json; a run without one keeps the plain title
    assert [ax.get_title() for ax in fig.axes] == [
        SMALL,
        f"{SMALL}: no 3D angles\n2,850 molecules × 3 epoch(s), 12 steps",
    ]
    for ax, frame in zip(fig.axes, frames, strict=True):
        raw, _smoothed, valid = ax.get_lines()
        np.testing.assert_allclose(raw.get_ydata(), frame["loss"])
        assert list(valid.get_xdata()) == [4, 8, 12]
        assert ax.get_xlabel() == "optimizer step" and ax.get_ylabel() == "loss"
    assert stem == tmp_path / "pre" and (tmp_path / "pre.png").exists()


def test_finetune_curves_group_runs_by_dataset_and_split(tmp_path, saved):
    """One run folder was written before the training log was renamed: its `metrics.csv` is drawn."""
    runs = [
        ("mumo", "bbbp", "random", "seed0"),
        ("mumo", "bbbp", "random", "seed1"),
        ("mumo_seq_only", "bbbp", "random", "seed0"),
        ("mumo", "esol", "scaffold", "seed0"),
    ]
    paths = [tmp_path.joinpath("runs", *run, "training_log.csv") for run in runs]
    for i, path in enumerate(paths[:3]):  # bbbp's runs ran 3, 2 and 3 of at most 30 epochs
        stopped = {"stopped_early": i == 1, "settings": {"epochs": 30, "lr": 1e-3}}
        _metrics_csv(path, steps=8 if i == 1 else 12, summary=stopped)
    _metrics_csv(paths[3])
    paths[3].rename(paths[3].with_name("metrics.csv"))  # a run folder written before the rename
    figure_steps.finetune_curves(
        training_logs=[str(p) for p in paths], stem=str(tmp_path / "ft"), preset="small"
    )
    ((fig, _stem),) = saved
    assert fig._suptitle.get_text() == "Finetuning (supervised loss)"
    bbbp, esol = fig.axes
    assert (bbbp.get_title(), esol.get_title()) == (
        "bbbp, random split\n3 run(s): 2.0–3.0 of ≤30 epochs, 1 stopped early; lr 0.001",
        "esol, scaffold split\n1 run(s), 3.0 epochs",  # no summary.json: what its log says
    )
    assert len(bbbp.get_lines()) == 3 * 3 and len(esol.get_lines()) == 3  # raw, smoothed, validation per run
    legend = [t.get_text() for t in bbbp.get_legend().get_texts()]
    assert legend[:3] == [
        SMALL,
        f"{SMALL}: sequence only",
        "train loss, per step",
    ]  # a model once, not per seed


def test_comparisons_figure_of_the_comparisons_file(tmp_path, saved):
    scores = pd.DataFrame(
        [
            {"dataset": "bbbp", "split": "scaffold", "task": "p_np", "metric": "roc_auc", "fold": "test"}
            | {"model": model, "seed": seed, "value": value}
            for model, values in SEEDS.items()
            for seed, value in enumerate(values)
        ]
    )
    paired_comparisons(scores, {"bbbp": "roc_auc"}, "small").to_csv(tmp_path / "comparisons.csv", index=False)
    figure_steps.comparisons_figure(
        str(tmp_path / "comparisons.csv"), tmp_path / "figures" / "comparisons", "small"
    )
    ((fig, stem),) = saved
    (ax,) = fig.axes
    assert _ticks(ax) == [
        "Mean (dummy)\nvs ECFP4 + RF",
        f"{SMALL}\nvs ECFP4 + RF",
        f"{SMALL}: sequence only\nvs ECFP4 + RF",
        f"{SMALL}\nvs {SMALL}: sequence only",
    ]
    assert [t.get_text() for t in ax.texts] == ["n=2"] * 4
    assert stem == tmp_path / "figures" / "comparisons"
    assert (tmp_path / "figures" / "comparisons.png").stat().st_size > 0
    assert (tmp_path / "figures" / "comparisons.pdf").stat().st_size > 0
