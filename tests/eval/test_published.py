import math

import pandas as pd
import pytest

from mumo.data.registry import REGISTRY
from mumo.eval.published import DATASET_TASKS, METRIC_NAMES, PUBLISHED_COLUMNS, compare, load_published


@pytest.fixture(scope="module")
def published():
    return load_published()


def _row(dataset, split, metric, task="y", benchmark=None):
    benchmark = benchmark or (REGISTRY[dataset].benchmark if dataset in REGISTRY else "custom")
    row = {"dataset": dataset, "task": task, "split": split, "model": "mumo", "metric": metric}
    return {"benchmark": benchmark, **row}


def test_packaged_file_has_a_source_for_every_row_and_a_unique_key(published):
    assert published["source"].notna().all()
    assert not published.duplicated(["task", "split", "metric", "model"]).any()
    assert set(published["metric"]) <= set(METRIC_NAMES.values())


def test_every_benchmark_dataset_maps_to_a_published_task(published):
    benchmark = {n for n, s in REGISTRY.items() if s.benchmark in ("MoleculeNet", "TDC")}
    assert set(DATASET_TASKS) == benchmark
    assert set(DATASET_TASKS.values()) <= set(published["task"])


def test_random_split_joins_mumo_and_the_best_other_model(published):
    (row,) = compare(pd.DataFrame([_row("bbbp", "random", "roc_auc", "p_np")]), published).to_dict("records")
    # selmiss/MuMo fig/result.png: BBBP-R 0.962 ± 0.007 over 3 split files
    assert (row["published_mumo"], row["published_mumo_std"], row["published_mumo_n"]) == (0.962, 0.007, 3)
    assert row["published_mumo_split"] == "random"
    candidates = published[
        (published["task"] == "bbbp")
        & (published["metric"] == "AUROC")
        & published["split"].isin(["random", "mumo_table_random", "mumo_table_unlabelled"])
        & ~published["model"].str.startswith("MuMo")
    ]
    assert row["best_published"] == candidates["mean"].max()
    assert "seeded splits" in row["protocol_note"]


def test_lower_is_better_picks_the_minimum_and_tdc_notes_the_protocol(published):
    (row,) = compare(pd.DataFrame([_row("tdc_ld50_zhu", "tdc", "mae", "Y")]), published).to_dict("records")
    assert row["published_mumo"] == 0.426 and row["published_mumo_split"] == "tdc_mumo"
    group = published[(published["task"] == "LD50_Zhu") & (published["split"] == "tdc_admet_group")]
    assert row["best_published"] == group.loc[group["metric"] == "MAE", "mean"].min()
    assert "seed 42 once" in row["protocol_note"] and "ddof=0" in row["protocol_note"]


def test_balanced_scaffold_is_marked_not_equated(published):
    table = pd.DataFrame([_row("bace", "balanced_scaffold", "roc_auc", "Class")])
    (row,) = compare(table, published).to_dict("records")
    assert row["published_mumo"] == 0.849 and row["published_mumo_split"] == "scaffold_mumo"
    assert row["protocol_note"].startswith("ours: balanced (Chemprop) scaffold split")


def test_multi_task_datasets_join_on_macro_only_and_subsets_are_noted(published):
    table = pd.DataFrame(
        [
            _row("tox21", "random", "roc_auc", "NR-AR"),
            _row("tox21", "random", "roc_auc", "macro"),
            _row("clintox", "random", "roc_auc", "CT_TOX"),
        ]
    )
    rows = compare(table, published)
    assert list(rows.columns)[-len(PUBLISHED_COLUMNS) :] == PUBLISHED_COLUMNS
    assert math.isnan(rows.loc[0, "published_mumo"]) and rows.loc[1, "published_mumo"] == 0.834
    assert "ours: task CT_TOX only, published: all 2 tasks" in rows.loc[2, "protocol_note"]


def test_custom_datasets_and_unpublished_metrics_stay_empty(published):
    table = pd.DataFrame([_row("my_assay", "random", "rmse"), _row("bbbp", "random", "f1", "p_np")])
    rows = compare(table, published)
    assert rows.loc[0, PUBLISHED_COLUMNS[:-1]].isna().all() and rows.loc[0, "protocol_note"] == ""
    assert rows.loc[1, "published_mumo"] == 0.917  # F1 is published for MuMo, no other model has it
    assert math.isnan(rows.loc[1, "best_published"])


def test_own_data_under_a_registry_name_gets_no_published_numbers(published):
    table = pd.DataFrame([_row("bbbp", "random", "roc_auc", "p_np", benchmark="custom")])
    rows = compare(table, published)
    assert rows.loc[0, PUBLISHED_COLUMNS[:-1]].isna().all() and rows.loc[0, "protocol_note"] == ""
