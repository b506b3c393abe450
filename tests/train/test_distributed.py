"""Multi-process training and kill-and-resume, through the `mumo` command in subprocesses."""

import json
import os
import signal
import time

import numpy as np
import pandas as pd
import pytest

from mumo.train.recipes import run_finetune

pytestmark = pytest.mark.slow  # every test trains in two processes or kills and resumes one


def _outputs(out):
    predictions = pd.read_csv(out / "predictions.csv")
    metrics = pd.read_csv(out / "training_log.csv")
    return predictions["y_pred"].to_numpy(), metrics[["step", "loss", "lr", "valid_loss"]]


def _finish(process, timeout=240):
    output, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, output[-3000:]


def test_two_processes_match_one_with_the_same_global_batch(tiny_data, tiny, start_cli, tmp_path):
    """2 ranks × 1 micro-batch of 8 per step against 1 rank × 2 accumulated micro-batches of 8.

    Same batches in the same steps (LengthBatchSampler), so the only difference is the order of float sums
    in the gradient average: predictions and losses agree to 1e-5 (observed: identical, or 1e-7 apart).
    """
    settings = tiny | {"epochs": 2, "zero_stage": 2}
    two = start_cli(tiny_data.finetune_cli("bbbp", tmp_path / "two", settings), torchrun=2)
    run_finetune(**tiny_data.finetune_args("bbbp", tmp_path / "one"), settings=settings | {"grad_accum": 2})
    _finish(two)
    (p1, m1), (p2, m2) = _outputs(tmp_path / "one"), _outputs(tmp_path / "two")
    assert json.loads((tmp_path / "two" / "summary.json").read_text())["world_size"] == 2
    np.testing.assert_allclose(p1, p2, rtol=0, atol=1e-5)
    pd.testing.assert_frame_equal(m1, m2, rtol=0, atol=1e-5)


def test_killed_run_resumes_to_the_same_result(tiny_data, tiny, start_cli, tmp_path):
    """SIGKILL mid-epoch, at any point of the loop (saving included), then rerun: same predictions and log.

    One torch thread per process, so the comparison is exact (with several threads, oneDNN/MKL reductions may
    differ by ~1e-5 between any two runs on a loaded machine, interrupted or not).
    """
    settings = tiny | {"epochs": 6, "checkpoint_every": 2, "eval_every": 3}
    run_finetune(**tiny_data.finetune_args("bbbp", tmp_path / "reference"), settings=settings)

    out = tmp_path / "killed"
    process = start_cli(tiny_data.finetune_cli("bbbp", out, settings))
    pointer = out / "checkpoints" / "latest.json"
    deadline = time.monotonic() + 180
    while not (pointer.exists() and json.loads(pointer.read_text())["step"] >= 3):
        assert process.poll() is None and time.monotonic() < deadline, "run ended before it could be killed"
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    killed_at = json.loads(pointer.read_text())["step"]
    assert not (out / "predictions.csv").exists()
    steps_per_epoch = len(pd.read_csv(tmp_path / "reference" / "training_log.csv")) // 6
    assert killed_at < 6 * steps_per_epoch

    (out / "training_log.csv").unlink()  # Snakemake deletes a failed job's outputs before it reruns the job
    run_finetune(**tiny_data.finetune_args("bbbp", out), settings=settings)
    (p_ref, m_ref), (p_res, m_res) = _outputs(tmp_path / "reference"), _outputs(out)
    np.testing.assert_array_equal(p_ref, p_res)
    pd.testing.assert_frame_equal(m_ref, m_res, check_exact=True)


def test_a_checkpoint_of_other_settings_is_not_resumed(tiny_data, tiny, tmp_path, caplog):
    run_finetune(
        **tiny_data.finetune_args("bbbp", tmp_path),
        settings=tiny | {"epochs": 1, "max_steps_this_invocation": 2},
    )
    assert not (tmp_path / "predictions.csv").exists()  # stopped after 2 steps, checkpoint left to resume
    run_finetune(**tiny_data.finetune_args("bbbp", tmp_path), settings=tiny | {"epochs": 1, "lr": 1e-4})
    assert "checkpoint of another run" in caplog.text
    metrics = pd.read_csv(tmp_path / "training_log.csv")
    assert metrics["step"].tolist() == list(range(1, len(metrics) + 1))  # trained from step 1 again
    run_finetune(
        **tiny_data.finetune_args("bbbp", tmp_path / "fresh"), settings=tiny | {"epochs": 1, "lr": 1e-4}
    )
    np.testing.assert_array_equal(_outputs(tmp_path)[0], _outputs(tmp_path / "fresh")[0])
