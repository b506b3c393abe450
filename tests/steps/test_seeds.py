"""The seeds of a group in one process: the same files as one job per seed, and a rerun keeps finished seeds."""

import json
import logging
from types import SimpleNamespace

import pandas as pd
import pytest

from mumo.steps import baseline
from mumo.steps.baseline import baseline_seeds, train_mean
from mumo.steps.scores import aggregate_table, evaluate_run, record_metrics
from mumo.steps.seeds import SeedRun, run_seeds

DATASET = SimpleNamespace(
    tasks=("y",), spec=SimpleNamespace(metrics=("rmse", "mae"), benchmark="custom", task_type="regression")
)
RUN = {"model": "mean", "dataset": "toy", "split": "random"}
SPLITS = {
    0: {"train": [0, 1, 2, 3], "valid": [4], "test": [5, 6]},
    1: {"train": [3, 4, 5, 6], "valid": [0], "test": [1, 2]},
}


@pytest.fixture
def group(tmp_path):
    table = pd.DataFrame(
        {
            "mol_id": [f"m{i}" for i in range(7)],
            "canonical_smiles": ["C", "CC", "CCC", "CCO", "CCN", "CCCl", "CCCC"],
            "y": [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0],
        }
    )
    table.to_csv(tmp_path / "table.csv", index=False)
    runs = []
    for seed, folds in SPLITS.items():
        split = tmp_path / "splits" / f"seed{seed}.json"
        split.parent.mkdir(exist_ok=True)
        split.write_text(json.dumps(folds))
        runs.append(
            SeedRun(seed, str(split), str(tmp_path / "runs" / f"seed{seed}"), str(tmp_path / f"{seed}.log"))
        )
    return tmp_path, runs


def _mean_seeds(tmp_path, runs, **overrides):
    options = dict(table=str(tmp_path / "table.csv"), features=None, dataset=DATASET, settings={}, threads=1)
    baseline_seeds(
        runs, **{**options, **overrides}, run=RUN, out_record=str(tmp_path / "runs" / "seeds-0+1.json")
    )


def _files(runs):
    return {
        f"{r.run_dir}/{name}": open(f"{r.run_dir}/{name}").read()
        for r in runs
        for name in ("predictions.csv", "metrics.json")
    }


def test_a_group_writes_what_one_job_per_seed_wrote(group, caplog):
    caplog.set_level(logging.INFO)  # as the pipeline's log_to_file sets it
    tmp_path, runs = group
    _mean_seeds(tmp_path, runs)
    for run in runs:  # the per-seed steps, as the per-seed rules ran them
        alone = tmp_path / "alone" / f"seed{run.seed}"
        alone.mkdir(parents=True)
        train_mean(str(tmp_path / "table.csv"), run.split_json, DATASET, str(alone / "predictions.csv"))
        evaluate_run(
            str(alone / "predictions.csv"),
            run.split_json,
            DATASET,
            {**RUN, "seed": run.seed},
            str(alone / "metrics.json"),
        )
        for name in ("predictions.csv", "metrics.json"):
            assert (alone / name).read_text() == (tmp_path / "runs" / f"seed{run.seed}" / name).read_text()
    record = tmp_path / "runs" / "seeds-0+1.json"
    assert json.loads(record.read_text())["seeds"] == [0, 1]
    assert record_metrics(str(record)) == [f"{r.run_dir}/metrics.json" for r in runs]
    aggregate_table([str(record)], str(tmp_path / "table_out.csv"))
    table = pd.read_csv(tmp_path / "table_out.csv")
    assert set(table["n_seeds"]) == {2}
    assert "seed 0 (1 of 2): training" in (tmp_path / "0.log").read_text()  # each seed has its own log


def test_a_rerun_keeps_finished_seeds_and_trains_the_unfinished_one(group, monkeypatch):
    tmp_path, runs = group
    _mean_seeds(tmp_path, runs)
    first = _files(runs)
    # as if the job had been killed during seed 1: its marker never written, the record neither
    (tmp_path / "runs" / "seed1" / "done.json").unlink()
    (tmp_path / "runs" / "seeds-0+1.json").unlink()
    trained = []

    def counted(**arguments):
        trained.append(arguments["split_json"])
        train_mean(**arguments)

    monkeypatch.setattr(baseline, "train_mean", counted)
    _mean_seeds(tmp_path, runs)
    assert trained == [runs[1].split_json]
    assert _files(runs) == first
    assert (tmp_path / "runs" / "seeds-0+1.json").exists()


def test_other_inputs_or_settings_retrain_every_seed(group):
    tmp_path, runs = group
    _mean_seeds(tmp_path, runs)
    markers = {r.seed: r.done.read_text() for r in runs}
    _mean_seeds(tmp_path, runs)  # unchanged: both kept
    assert {r.seed: r.done.read_text() for r in runs} == markers
    table = pd.read_csv(tmp_path / "table.csv")
    table.loc[0, "y"] = 100.0
    table.to_csv(tmp_path / "table.csv", index=False)
    _mean_seeds(tmp_path, runs)
    assert all(r.done.read_text() != markers[r.seed] for r in runs)
    assert pd.read_csv(runs[0].predictions)["y_pred"].iloc[0] == pytest.approx((100 + 2 + 4 + 8) / 4)
    again = {r.seed: r.done.read_text() for r in runs}
    _mean_seeds(tmp_path, runs, settings={"n_estimators": 5})  # other settings: another identity
    assert all(r.done.read_text() != again[r.seed] for r in runs)


def test_a_seed_that_stops_before_the_end_fails_the_job_with_its_folder_named(group):
    tmp_path, runs = group
    with pytest.raises(RuntimeError, match=r"runs/seed0: seed 0 stopped before the end of its training"):
        run_seeds(
            runs,
            identity={},
            inputs=[],
            dataset=DATASET,
            run=RUN,
            train=lambda run: None,
            out_record=str(tmp_path / "record.json"),
        )
    assert not (tmp_path / "record.json").exists() and not runs[0].done.exists()


def _failing_for(split_jsons, monkeypatch):
    """train_mean raising for the seeds of `split_jsons`, as a baseline whose fit fails on that split."""

    def failing(**arguments):
        if arguments["split_json"] in split_jsons:
            raise ValueError("no labelled training row")
        train_mean(**arguments)

    monkeypatch.setattr(baseline, "train_mean", failing)


def test_a_failed_baseline_seed_is_recorded_named_and_the_others_go_on(group, monkeypatch, caplog):
    caplog.set_level(logging.INFO)
    tmp_path, runs = group
    _failing_for({runs[0].split_json}, monkeypatch)
    _mean_seeds(tmp_path, runs)
    record_path = tmp_path / "runs" / "seeds-0+1.json"
    record = json.loads(record_path.read_text())
    assert record["seeds"] == [1] and record["failed"] == [
        {"seed": 0, "reason": "ValueError: no labelled training row"}
    ]
    assert "seed 0 failed: ValueError: no labelled training row" in caplog.text  # the job's log
    assert "Traceback" in (tmp_path / "0.log").read_text()  # the seed's own log
    assert not runs[0].done.exists() and runs[1].done.exists()
    aggregate_table([str(record_path)], str(tmp_path / "table_out.csv"))
    assert set(pd.read_csv(tmp_path / "table_out.csv")["n_seeds"]) == {1}
    assert "mean on toy/random: seed 0 failed (ValueError: no labelled training row)" in caplog.text
    # the job run again (snakemake --forcerun) trains the failed seed and keeps the finished one
    monkeypatch.setattr(baseline, "train_mean", train_mean)
    kept = runs[1].done.read_text()
    _mean_seeds(tmp_path, runs)
    record = json.loads(record_path.read_text())
    assert record["seeds"] == [0, 1] and record["failed"] == []
    assert runs[1].done.read_text() == kept


def test_a_baseline_job_whose_every_seed_failed_fails(group, monkeypatch):
    tmp_path, runs = group
    _failing_for({r.split_json for r in runs}, monkeypatch)
    with pytest.raises(RuntimeError, match=r"mean on toy/random: every seed failed: \[\{'seed': 0"):
        _mean_seeds(tmp_path, runs)
    assert not (tmp_path / "runs" / "seeds-0+1.json").exists()


def test_a_failing_seed_of_a_model_that_does_not_record_failures_stops_the_job(group):
    """MuMo's seeds (record_failures off): the job fails, so a cluster retries it and the seed resumes."""
    tmp_path, runs = group

    def failing(seed_run):
        raise ValueError("diverged")

    with pytest.raises(ValueError, match="diverged"):
        run_seeds(
            runs,
            identity={},
            inputs=[],
            dataset=DATASET,
            run=RUN,
            train=failing,
            out_record=str(tmp_path / "r.json"),
        )
    assert not runs[1].done.exists() and not (tmp_path / "r.json").exists()
