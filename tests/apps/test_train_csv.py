"""`mumo train` on a CSV → `mumo predict` with the ensemble → `mumo evaluate` on predict's output."""

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import MOLECULENET

from mumo.apps import predict_csv as predict
from mumo.apps.train_csv import EnsembleOptions, _expected_duration, _fixed_split, train_csv
from mumo.chem.conformer import ConformerConfig
from mumo.chem.store import StructureStore
from mumo.cli import main
from mumo.train.settings import TrainSettings

FAST = ["max_embed_attempts=10", "max_iters=50", "add_hs_below_heavy_atoms=0"]
TINY = ["--preset=tiny", "--epochs=1", "--set", "progress=false", "num_workers=0", "batch_size=8"]


@pytest.fixture(scope="module")
def ensemble(tmp_path_factory):
    """A 2-seed tiny ensemble trained on 40 BBBP rows plus one invalid SMILES."""
    root = tmp_path_factory.mktemp("train")
    data = pd.read_csv(MOLECULENET / "bbbp.csv").head(40)
    data = pd.concat([data, pd.DataFrame({"smiles": ["C1CC"], "p_np": [1]})], ignore_index=True)
    data.to_csv(root / "my data.csv", index=False)
    args = ["train", str(root / "my data.csv"), "--target-columns", "p_np", "--task-type", "classification"]
    args += ["--output", str(root / "ens"), "--seeds", "0", "1", "--split", "random", "--conformer", *FAST]
    assert main([*args, *TINY]) == 0
    return root


@pytest.mark.slow
def test_train_writes_an_ensemble_folder_with_its_report(ensemble):
    out = ensemble / "ens"
    assert (out / "seed0" / "model" / "model.safetensors").exists() and (out / "seed1" / "model").is_dir()
    rejected = pd.read_csv(out / "rejected.csv")
    assert rejected["smiles"].tolist() == ["C1CC"] and rejected["reason"].str.len().gt(0).all()
    report = pd.read_csv(out / "report.csv")
    assert set(report["seed"]) == {0, 1} and set(report["fold"]) == {"valid", "test"}
    # the reference models on the very same folds: each model has every seed, fold, task and metric MuMo has
    assert report["model"].unique().tolist() == ["mumo", "mean", "ecfp_rf"]
    keys = ["seed", "fold", "task", "metric"]
    per_model = {m: set(map(tuple, rows[keys].to_numpy())) for m, rows in report.groupby("model")}
    assert per_model["mean"] == per_model["ecfp_rf"] == per_model["mumo"]
    mean_auc = report.query("model == 'mean' and metric == 'roc_auc'")["value"]
    assert mean_auc.dropna().eq(0.5).all()  # a constant prediction ranks nothing
    text = (out / "report.md").read_text()
    assert "41 rows, 40 kept, 1 rejected" in text and "trained from scratch" in text
    assert "expected: training ~" in (out / "train.log").read_text()  # before the structures
    assert "| mumo | test | p_np | accuracy |" in text and "| ecfp_rf | test | p_np | roc_auc |" in text
    splits = [json.loads((out / "splits" / f"seed{s}.json").read_text()) for s in (0, 1)]
    assert splits[0]["train"] != splits[1]["train"]  # a random split per seed
    assert json.loads((out / "ensemble.json").read_text())["seeds"] == [0, 1]
    log = (out / "train.log").read_text()
    assert "'kept': 40" in log  # what the steps said
    assert "seed 1 (2 of 2): training in" in log and "(the lowest validation loss)" in log


@pytest.mark.slow
def test_predict_with_the_ensemble_then_evaluate(ensemble, tmp_path, monkeypatch, capsys):
    featurised = []
    build_shard = predict.build_shard

    def recording(smiles, *args, **options):
        featurised.extend(smiles)
        return build_shard(smiles, *args, **options)

    monkeypatch.setattr(predict, "build_shard", recording)
    train = pd.read_csv(ensemble / "my data.csv").head(6)
    new = pd.DataFrame({"smiles": ["CCO", "not a smiles"], "p_np": [1, 0]})
    pd.concat([train, new], ignore_index=True).to_csv(tmp_path / "in.csv", index=False)
    common = ["--input", str(tmp_path / "in.csv")]
    assert (
        main(["predict", "--model", str(ensemble / "ens"), *common, "--output", str(tmp_path / "p.csv")]) == 0
    )
    assert featurised == ["CCO"]  # the training molecules come from the ensemble's store
    out = pd.read_csv(tmp_path / "p.csv")
    assert out["status"].tolist() == ["ok"] * 7 + ["invalid_smiles"]
    assert out["n_models"].tolist() == [2] * 7 + [0]

    members = []
    for seed in (0, 1):
        model = ensemble / "ens" / f"seed{seed}"
        assert (
            main(["predict", "--model", str(model), *common, "--output", str(tmp_path / f"{seed}.csv")]) == 0
        )
        members.append(pd.read_csv(tmp_path / f"{seed}.csv")["pred_p_np"].to_numpy())
    np.testing.assert_allclose(out["pred_p_np"], np.mean(members, axis=0), rtol=1e-6)
    np.testing.assert_allclose(out["std_p_np"], np.std(members, axis=0), rtol=1e-5, atol=1e-7)
    assert out["std_p_np"].iloc[:7].gt(0).any()

    capsys.readouterr()
    assert main(["evaluate", "--input", str(tmp_path / "p.csv"), "--metrics", "roc_auc", "accuracy"]) == 0
    printed = capsys.readouterr().out
    assert "roc_auc" in printed and " all " in printed
    assert (
        main(
            [
                "evaluate",
                "--input",
                str(tmp_path / "p.csv"),
                "--metrics",
                "accuracy",
                "--output",
                str(tmp_path / "s.csv"),
            ]
        )
        == 0
    )
    scores = pd.read_csv(tmp_path / "s.csv")
    assert scores["n"].tolist() == [7]  # the invalid row has no prediction: counted out, not scored


@pytest.mark.slow
def test_the_seed_folder_of_an_ensemble_and_two_model_folders_are_ensembles_too(ensemble):
    out = ensemble / "ens"
    assert predict.ensemble_members([out]) == [out / "seed0" / "model", out / "seed1" / "model"]
    assert predict.ensemble_members([out / "seed1", out / "seed0" / "model"]) == [
        out / "seed1" / "model",
        out / "seed0" / "model",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("smiles,y\n", "no rows"),
        ("smiles,other\nCCO,1\n", "missing column"),
        ("smiles,y\nnot_a_smiles,1\nC1CC,0\n", "no usable rows after standardisation"),
    ],
)
def test_train_stops_on_bad_input_with_one_line(tmp_path, capsys, text, message):
    (tmp_path / "d.csv").write_text(text)
    args = ["train", str(tmp_path / "d.csv"), "--target-columns", "y", "--task-type", "regression"]
    assert main([*args, "--output", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and err.startswith("mumo train: error:")
    assert "Traceback" in (tmp_path / "o" / "train.log").read_text()  # the user's line; the log has the rest


def test_user_folds_from_a_column_or_a_splits_file(tmp_path):
    (tmp_path / "d.csv").write_text("smiles,y,set\nC,1,train\nCC,2,Valid\nCCC,3,test\n")
    assert _fixed_split(tmp_path / "d.csv", "column:set", None, 3) == ["train", "valid", "test"]
    (tmp_path / "s.json").write_text(json.dumps({"train": [2, 0], "valid": [], "test": [1]}))
    assert _fixed_split(tmp_path / "d.csv", None, str(tmp_path / "s.json"), 3) == ["train", "test", "train"]
    assert _fixed_split(tmp_path / "d.csv", "scaffold", None, 3) is None  # seeded by each seed
    with pytest.raises(ValueError, match="no split column 'fold'; columns: smiles, y, set"):
        _fixed_split(tmp_path / "d.csv", "column:fold", None, 3)
    with pytest.raises(ValueError, match=r"s.json: test row\(s\) 7 are not input rows \(integers 0..2\)"):
        (tmp_path / "s.json").write_text(json.dumps({"test": [7]}))
        _fixed_split(tmp_path / "d.csv", None, str(tmp_path / "s.json"), 3)
    with pytest.raises(ValueError, match=r"seeds must be distinct and at least one, got \[0, 0\]"):
        train_csv(tmp_path / "d.csv", tmp_path / "o", "smiles", ["y"], "regression", seeds=[0, 0])
    with pytest.raises(ValueError, match="unknown split 'kmeans'"):
        _fixed_split(tmp_path / "d.csv", "kmeans", None, 3)


def test_a_row_in_two_folds_of_a_splits_file_is_refused(tmp_path):
    """It used to go to the last fold listed (test) without a word, shrinking train."""
    (tmp_path / "s.json").write_text(json.dumps({"train": [0, 1, 2], "valid": [], "test": [2]}))
    with pytest.raises(ValueError, match=r"s.json: 1 row\(s\) listed more than once: 2 \(train/test\)"):
        _fixed_split(tmp_path / "d.csv", None, str(tmp_path / "s.json"), 3)


@pytest.mark.parametrize(("fractions", "fold"), [((1, 0, 0), "test"), ((0, 0.5, 0.5), "train")])
def test_split_fractions_without_train_or_test_are_refused_before_any_work(tmp_path, fractions, fold):
    """`--split-fractions 1 0 0` crashed in training (an empty test fold); the pipeline refuses it at start-up."""
    (tmp_path / "d.csv").write_text("smiles,y\nC,1\nCC,2\nCCC,3\n")
    options = EnsembleOptions(split="random", fractions=fractions)
    with pytest.raises(ValueError, match=rf"--split-fractions: the {fold} fraction must be > 0"):
        train_csv(tmp_path / "d.csv", tmp_path / "o", "smiles", ["y"], "regression", options=options)
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_train_from_a_pretrained_model_with_a_shared_store(ensemble, tmp_path):
    """--from: the given model's vocabulary and weights; --store: molecules already there are not recomputed."""
    store = ensemble / "ens" / "structures"
    before = sorted(p.name for p in (store / "cache").rglob("*.npz"))
    data = pd.read_csv(ensemble / "my data.csv")
    data["split"] = np.resize(["train", "train", "valid", "test"], len(data))
    data.to_csv(tmp_path / "my data.csv", index=False)
    args = [
        "train",
        str(tmp_path / "my data.csv"),
        "--target-columns",
        "p_np",
        "--task-type",
        "classification",
    ]
    args += [
        "--output",
        str(tmp_path / "ft"),
        "--seeds",
        "5",
        "--split",
        "column:split",
        "--conformer",
        *FAST,
    ]
    from_dir = ensemble / "ens" / "seed0"
    assert main([*args, "--from", str(from_dir), "--store", str(store), *TINY]) == 0
    assert "finetuned from" in (tmp_path / "ft" / "report.md").read_text()
    assert (tmp_path / "ft" / "vocab.json").read_text() == (from_dir / "model" / "vocab.json").read_text()
    assert sorted(p.name for p in (store / "cache").rglob("*.npz")) == before
    assert not (tmp_path / "ft" / "structures").exists()
    split = json.loads((tmp_path / "ft" / "splits" / "seed5.json").read_text())
    assert split["split"] == "column:split" and len(split["test"]) == 10
    recorded = Path(json.loads((tmp_path / "ft" / "ensemble.json").read_text())["store"])
    assert recorded.parent == store.resolve() and recorded.is_file()  # the run's own file, not the folder


@pytest.mark.slow
def test_two_runs_sharing_a_store_with_other_conformer_settings_keep_their_own_structures(tmp_path, capsys):
    """Each run writes and reads its own file of the shared store; a store file of other settings is refused."""
    pd.read_csv(MOLECULENET / "bbbp.csv").head(24).to_csv(tmp_path / "d.csv", index=False)
    args = ["train", str(tmp_path / "d.csv"), "--target-columns", "p_np", "--task-type", "classification"]
    args += ["--seeds", "0", "--split", "random", "--store", str(tmp_path / "store"), *TINY]
    settings = {"a": FAST, "b": [*FAST, "seed=7"]}
    for run, conformer in settings.items():
        assert main([*args, "--output", str(tmp_path / run), "--conformer", *conformer]) == 0
    files = {
        run: Path(json.loads((tmp_path / run / "ensemble.json").read_text())["store"]) for run in settings
    }
    assert files["a"] != files["b"] and sorted((tmp_path / "store").glob("*.npz")) == sorted(files.values())
    for run, seed in (("a", 42), ("b", 7)):  # each model says how its file was built
        recorded = json.loads((tmp_path / run / "seed0" / "model" / "featurization.json").read_text())
        assert recorded["conformer"]["seed"] == seed
        assert ConformerConfig(**recorded["conformer"]).digest() in files[run].name
    molecule = next(iter(StructureStore(files["a"])))
    assert not np.allclose(
        StructureStore(files["a"])[molecule]["pos"], StructureStore(files["b"])[molecule]["pos"]
    )

    # predict with model a: its own file is read; the shared folder holds b's file, refused in one line
    common = ["predict", "--model", str(tmp_path / "a"), "--input", str(tmp_path / "d.csv")]
    assert main([*common, "--output", str(tmp_path / "p.csv"), "--store", str(files["a"])]) == 0
    capsys.readouterr()
    assert main([*common, "--output", str(tmp_path / "q.csv"), "--store", str(tmp_path / "store")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith(
        f"mumo predict: error: {files['b']}: structure store"
    )
    assert "seed=7, but this model's are seed=42;" in err and not (tmp_path / "q.csv").exists()


def test_a_second_train_into_a_folder_in_use_is_refused_naming_the_holder(tmp_path, capsys):
    """Two runs writing one folder would corrupt each other: the second stops at once, with one line."""
    from mumo.io import owned_output

    (tmp_path / "d.csv").write_text("smiles,y\nCCO,1\n")
    args = ["train", str(tmp_path / "d.csv"), "--target-columns", "y", "--task-type", "regression"]
    with owned_output(tmp_path / "o", "mumo train"):  # as a first run holds it
        assert main([*args, "--output", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert f"{tmp_path / 'o'}: another mumo train is writing into this folder (process" in err


@pytest.mark.slow
def test_a_rerun_keeps_finished_seeds_and_predict_uses_exactly_the_listed_members(ensemble, tmp_path, capsys):
    """A rerun into its own folder with other seeds: the seed it no longer has is removed (predict used to
    average it in), the finished one kept; predict refuses a folder with a seed missing or one extra."""
    import shutil

    out = tmp_path / "ens"
    shutil.copytree(ensemble / "ens", out)
    weights = out / "seed1" / "model" / "model.safetensors"
    before = weights.stat().st_mtime_ns
    args = [
        "train",
        str(ensemble / "my data.csv"),
        "--target-columns",
        "p_np",
        "--task-type",
        "classification",
    ]
    args += ["--output", str(out), "--seeds", "1", "--split", "random", "--conformer", *FAST]
    assert main([*args, *TINY]) == 0
    assert not (out / "seed0").exists() and weights.stat().st_mtime_ns == before
    log = (out / "train.log").read_text()
    assert "seed0: not a seed of this run; removed" in log
    assert "seed 1: finished earlier from the same inputs and settings, kept" in log
    record = json.loads((out / "ensemble.json").read_text())
    assert record["members"] == ["seed1/model"] and record["seeds"] == [1]
    pd.DataFrame({"smiles": ["CCO", "c1ccccc1O"]}).to_csv(tmp_path / "in.csv", index=False)
    predict_args = ["predict", "--model", str(out), "--input", str(tmp_path / "in.csv")]
    assert main([*predict_args, "--output", str(tmp_path / "p.csv")]) == 0
    assert pd.read_csv(tmp_path / "p.csv")["n_models"].tolist() == [1, 1]
    shutil.copytree(out / "seed1", out / "seed9")  # a stray seed folder
    assert main([*predict_args, "--output", str(tmp_path / "p.csv")]) == 1
    assert f"{out / 'seed9'}: not listed in ensemble.json (left by another run?)" in capsys.readouterr().err
    shutil.rmtree(out / "seed9")
    shutil.rmtree(out / "seed1")
    assert main([*predict_args, "--output", str(tmp_path / "p.csv")]) == 1
    assert f"{out / 'seed1/model'}: listed in ensemble.json but missing" in capsys.readouterr().err


def test_the_report_counts_seeds_as_integers():
    from pathlib import Path

    from mumo.apps.train_csv import _report_md
    from mumo.data.standardise import Standardised

    report = pd.DataFrame(
        {
            "model": "mumo",
            "seed": [0, 1],
            "fold": "test",
            "task": "y",
            "metric": "rmse",
            "value": [1.0, 2.0],
            "n": 5,
        }
    )
    counts = Standardised(pd.DataFrame(), pd.DataFrame(), {"raw": 10, "kept": 10, "rejected": 0}, {})
    text = _report_md(Path("d.csv"), report, counts, None, "random")
    assert "| mumo | test | y | rmse | 1.500 ± 0.707 | 2 |" in text  # it printed "2.0"


def test_the_terminal_shows_seeds_model_selection_and_removed_folders(tmp_path, capsys):
    """The early stop and the epoch kept were in no log at all; a chemist watching the run sees them now,
    and not the steps' details."""
    import logging

    from mumo.apps.train_csv import _log_to

    with _log_to(tmp_path / "train.log"):
        logging.getLogger("mumo.steps.seeds").info("seed 0 (1 of 3): training in somewhere")
        logging.getLogger("mumo.train.engine.selection").info("seed 0 (1 of 3): early stopping at step 9")
        logging.getLogger("mumo.chem.store").info("a detail for the log file only")
        logging.getLogger("mumo.data.standardise").warning("row 7 rejected")  # one per row: report.md counts
        logging.getLogger("mumo.apps.train_csv").warning("seed5: not a seed of this run; removed")
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "seed 0 (1 of 3): training in somewhere",
        "seed 0 (1 of 3): early stopping at step 9",
        "warning: seed5: not a seed of this run; removed",
    ]
    assert "a detail for the log file only" in (tmp_path / "train.log").read_text()


@pytest.mark.slow
def test_a_run_in_its_own_process_says_nothing_stray(tmp_path):
    """No `Exception ignored ... can only test a child process` on the terminal (DataLoader workers of one
    seed collected in the next seed's workers) and no compiler-probe lines (DeepSpeed's op builders) in
    train.log: a fresh process, as a user runs it, where DeepSpeed starts for the first time."""
    import subprocess
    import sys

    pd.read_csv(MOLECULENET / "bbbp.csv").head(40).to_csv(tmp_path / "d.csv", index=False)
    args = ["train", "d.csv", "--target-columns", "p_np", "--task-type", "classification", "--output", "o"]
    args += [
        "--seeds",
        "0",
        "1",
        "--split",
        "random",
        "--preset",
        "tiny",
        "--epochs",
        "2",
        "--conformer",
        *FAST,
    ]
    args += ["--set", "progress=false", "num_workers=1", "batch_size=8"]
    done = subprocess.run(
        [sys.executable, "-m", "mumo.cli", *args], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Exception ignored" not in done.stderr and "Traceback" not in done.stderr
    log = (tmp_path / "o" / "train.log").read_text()
    assert not re.search(r"\bgcc\b|compilers\.|\.c -o ", log), log
    assert "seed 1 (2 of 2): training in" in log


def test_the_expected_training_time_is_printed_from_the_measured_throughput(tmp_path, monkeypatch):
    """80 train and 20 valid + test molecules of 4 tokens ([CLS] C C O), 3 seeds of up to 30 epochs at the table's
    15.66 molecules/s (small, batch 32, CPU): per seed ((30·80 + 20·31/3) / 15.66 · 4/64 + 10 s) · 1.6 = 32.6 s,
    98 s for three."""
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    pd.DataFrame({"canonical_smiles": ["CCO"] * 100}).to_csv(tmp_path / "table.csv", index=False)
    split = {"train": list(range(80)), "valid": list(range(80, 90)), "test": list(range(90, 100))}
    (tmp_path / "split.json").write_text(json.dumps({"split": "random", "seed": 0, **split}))
    settings = TrainSettings.from_dict({"preset": "small", "epochs": 30, "batch_size": 32})
    line = _expected_duration(tmp_path / "table.csv", tmp_path / "split.json", settings, n_seeds=3)
    assert line.startswith(
        "expected: training ~2 min at most (3 seed(s) × up to 30 epochs of 80 molecules of ~4 "
    )
    assert "at the 15.66 molecules/s measured for small batch 32 on cpu" in line
