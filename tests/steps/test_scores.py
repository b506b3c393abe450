import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from mumo.data.sources import DataSourceError, resolve
from mumo.eval.aggregate import TABLE_COLUMNS
from mumo.eval.compare import COMPARISON_COLUMNS
from mumo.eval.predictions import PREDICTION_COLUMNS
from mumo.steps.scores import aggregate_table, compare_models, evaluate_run

BBBP = resolve("bbbp")
TRUE = [1, 0, 1, 1, 0, 0]


def _predictions(path, test_scores):
    """bbbp predictions: two valid rows and six test rows scored `test_scores`."""
    frame = pd.DataFrame(
        {
            "mol_id": [f"bbbp:{i}" for i in range(8)],
            "canonical_smiles": "C",
            "fold": ["valid"] * 2 + ["test"] * 6,
            "task": "p_np",
            "y_true": [1, 0, *TRUE],
            "y_pred": [0.9, 0.2, *test_scores],
        }
    )
    frame.to_csv(path, index=False)
    return path


def _split(path):
    path.write_text(json.dumps({"train": list(range(8, 20)), "valid": [0, 1], "test": list(range(2, 8))}))
    return path


def _evaluate(tmp_path, seed, test_scores, model="ecfp_rf"):
    out = tmp_path / f"seed{seed}.json"
    evaluate_run(
        predictions_csv=str(_predictions(tmp_path / f"p{seed}.csv", test_scores)),
        split_json=str(_split(tmp_path / "split.json")),
        dataset=BBBP,
        run={"model": model, "dataset": "bbbp", "split": "scaffold", "seed": seed},
        out_json=str(out),
    )
    return out


def _group_record(folder, model, runs):
    """A group's record listing its seeds' metric files relative to itself, as the training job writes it."""
    folder.mkdir(parents=True, exist_ok=True)
    files = [_evaluate(folder, seed, test_scores, model) for seed, test_scores in enumerate(runs)]
    record = folder / f"seeds-{'+'.join(map(str, range(len(runs))))}.json"
    record.write_text(json.dumps({"metrics": [str(Path(f).relative_to(folder)) for f in files]}))
    return str(record)


def test_evaluate_run_records_the_run_fold_sizes_and_every_metric(tmp_path):
    test_scores = [0.8, 0.3, 0.4, 0.9, 0.6, 0.1]
    record = json.loads(_evaluate(tmp_path, 0, test_scores).read_text())
    assert {k: record[k] for k in ("model", "dataset", "split", "seed", "benchmark", "task_type")} == {
        "model": "ecfp_rf",
        "dataset": "bbbp",
        "split": "scaffold",
        "seed": 0,
        "benchmark": "MoleculeNet",
        "task_type": "classification",
    }
    assert (record["n_train"], record["n_valid"], record["n_test"]) == (12, 2, 6)
    scores = pd.DataFrame(record["scores"])
    assert len(scores) == 2 * 4 and set(scores["metric"]) == {"roc_auc", "pr_auc", "accuracy", "f1"}
    test = scores[scores["fold"] == "test"].set_index("metric")
    assert test.loc["roc_auc", "value"] == pytest.approx(roc_auc_score(TRUE, test_scores))
    assert test.loc["accuracy", "value"] == pytest.approx(4 / 6)  # 0.4 and 0.6 are on the wrong side of 0.5
    assert set(test["n"]) == {6}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", r"p.csv: file is empty"),
        (",".join(PREDICTION_COLUMNS) + "\n", r"p.csv: no data rows"),
        ("mol_id,y_pred\nbbbp:0,0.5\n", r"p.csv: missing column\(s\) \['fold', 'task', 'y_true'\]"),
    ],
)
def test_evaluate_run_names_a_predictions_file_it_cannot_score(tmp_path, text, message):
    (tmp_path / "p.csv").write_text(text)
    with pytest.raises(DataSourceError, match=message):
        evaluate_run(
            predictions_csv=str(tmp_path / "p.csv"),
            split_json=str(_split(tmp_path / "split.json")),
            dataset=BBBP,
            run={"model": "mean"},
            out_json=str(tmp_path / "out.json"),
        )
    assert not (tmp_path / "out.json").exists()


def test_aggregate_table_summarises_seeds_beside_the_published_numbers(tmp_path):
    runs = [[0.8, 0.3, 0.4, 0.9, 0.6, 0.1], [0.9, 0.1, 0.8, 0.7, 0.2, 0.3], [0.6, 0.5, 0.4, 0.9, 0.7, 0.2]]
    files = [_evaluate(tmp_path, seed, test_scores) for seed, test_scores in enumerate(runs)]
    record = tmp_path / "seeds-0+1+2.json"  # a group's record lists its seeds' files relative to itself
    record.write_text(json.dumps({"metrics": [str(Path(f).relative_to(tmp_path)) for f in files]}))
    aggregate_table(group_records=[str(record)], out_csv=str(tmp_path / "table.csv"))
    table = pd.read_csv(tmp_path / "table.csv")
    assert table.columns.tolist() == TABLE_COLUMNS
    assert len(table) == 4  # one row per metric: test fold only, one task
    roc = table.set_index("metric").loc["roc_auc"]
    per_seed = [roc_auc_score(TRUE, s) for s in runs]
    assert roc["mean"] == pytest.approx(np.mean(per_seed)) and roc["std"] == pytest.approx(
        np.std(per_seed, ddof=1)
    )
    assert (roc["n_seeds"], roc["n_train"], roc["n_test"]) == (3, 12, 6)
    assert roc["model"] == "ecfp_rf" and roc["task"] == "p_np"
    assert pd.notna(roc["best_published"])  # bbbp's ROC-AUC has a published baseline beside ours


def test_aggregate_table_refuses_to_write_an_empty_table(tmp_path):
    with pytest.raises(ValueError, match="no run metrics to aggregate"):
        aggregate_table(group_records=[], out_csv=str(tmp_path / "table.csv"))
    assert not (tmp_path / "table.csv").exists()


def test_compare_models_pairs_the_seeds_that_the_table_summarises(tmp_path):
    """The comparisons read the same group records as the table: per seed, the difference of the two models'
    ROC-AUC; over seeds, the difference of the table's means."""
    runs = {
        "ecfp_rf": [
            [0.8, 0.3, 0.4, 0.9, 0.6, 0.1],
            [0.9, 0.1, 0.8, 0.7, 0.2, 0.3],
            [0.6, 0.5, 0.4, 0.9, 0.7, 0.2],
        ],
        "mumo": [
            [0.9, 0.2, 0.7, 0.8, 0.3, 0.1],
            [0.7, 0.4, 0.9, 0.6, 0.5, 0.2],
            [0.9, 0.3, 0.8, 0.7, 0.1, 0.2],
        ],
    }
    records = [_group_record(tmp_path / model, model, per_seed) for model, per_seed in runs.items()]
    aggregate_table(group_records=records, out_csv=str(tmp_path / "table.csv"))
    compare_models(records, {"bbbp": "roc_auc"}, "small", str(tmp_path / "comparisons.csv"))
    comparisons = pd.read_csv(tmp_path / "comparisons.csv", dtype={"seeds": str, "diffs": str})
    assert comparisons.columns.tolist() == COMPARISON_COLUMNS
    row = comparisons.set_index(["model", "reference"]).loc[("mumo", "ecfp_rf")]
    per_seed = [
        roc_auc_score(TRUE, m) - roc_auc_score(TRUE, e)
        for e, m in zip(runs["ecfp_rf"], runs["mumo"], strict=True)
    ]
    assert [float(d) for d in row["diffs"].split(";")] == pytest.approx(per_seed, abs=1e-6)
    table = pd.read_csv(tmp_path / "table.csv")
    means = table[table["metric"] == "roc_auc"].set_index("model")["mean"]
    assert row["mean_diff"] == pytest.approx(means["mumo"] - means["ecfp_rf"])
    assert (row["model_mean"], row["reference_mean"]) == (
        pytest.approx(means["mumo"]),
        pytest.approx(means["ecfp_rf"]),
    )
    assert (row["n_pairs"], row["seeds"], row["task"]) == (3, "0;1;2", "p_np")


def test_compare_models_refuses_to_write_without_runs(tmp_path):
    with pytest.raises(ValueError, match="no run metrics to aggregate"):
        compare_models([], {"bbbp": "roc_auc"}, "small", str(tmp_path / "comparisons.csv"))
    assert not (tmp_path / "comparisons.csv").exists()
