"""The launcher of the pipeline's `pretrain` rule: one rank in-process, several through torchrun."""

import json
import sys

import pandas as pd
import pytest

from mumo.train.launch import cli_command, gpu_count, launch_pretrain


def test_one_process_needs_no_launcher():
    assert cli_command(["pretrain", "--output=x"]) == [
        sys.executable,
        "-m",
        "mumo.cli",
        "pretrain",
        "--output=x",
    ]
    torchrun = cli_command(["pretrain"], processes=4)
    assert torchrun[1:5] == ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=4"]
    assert torchrun[-3:] == ["-m", "mumo.cli", "pretrain"]


@pytest.mark.parametrize(
    ("resources", "gpus"),
    [({}, 0), ({"gpu": 4, "gpu_model": "a100"}, 4), ({"gres": "gpu:a100:2"}, 2), ({"gres": "gpu:3"}, 3)],
)
def test_gpu_count_of_a_job(resources, gpus):
    assert gpu_count(resources) == gpus


def test_an_unreadable_gres_is_an_error():
    with pytest.raises(ValueError, match="'shard:2'"):
        gpu_count({"gres": "shard:2"})


@pytest.mark.slow
def test_two_ranks_pretrain_through_torchrun_and_log_to_the_rule_log(tiny_data, tiny, tmp_path):
    log = tmp_path / "pretrain.log"
    out = tmp_path / "two"
    launch_pretrain(
        tiny_data.pretrain_data(store=[str(tiny_data.store / "shard.npz")]), str(out),
        tiny | {"epochs": 1, "valid_fraction": 0.1}, threads=2, processes=2, log_path=log,
    )  # fmt: skip
    summary = json.loads((out / "summary.json").read_text())
    assert summary["world_size"] == 2
    assert (out / "model" / "model.safetensors").stat().st_size > 0
    assert len(pd.read_csv(out / "training_log.csv")) > 0
    text = log.read_text()
    assert "launching 2 ranks" in text and "--nproc_per_node=2" in text and "--threads=1" in text
    assert f"--store {tiny_data.store / 'shard.npz'} " in text and "--conformer seed=42 " in text


@pytest.mark.slow
def test_a_failed_rank_fails_the_launch_and_names_the_log(tiny_data, tiny, tmp_path):
    log = tmp_path / "pretrain.log"
    with pytest.raises(RuntimeError, match="2-rank pretraining failed .* see .*pretrain.log"):
        launch_pretrain(
            tiny_data.pretrain_data(corpus_csv=str(tmp_path / "missing.csv")), str(tmp_path / "out"),
            tiny, threads=1, processes=2, log_path=log,
        )  # fmt: skip
    assert "missing.csv" in log.read_text()
