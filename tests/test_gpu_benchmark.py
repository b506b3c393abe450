"""benchmarks/gpu.py in its CPU smoke mode: the GPU session's script runs end to end and writes rows that
`mumo cost` reads."""

import json
import os
import subprocess
import sys

import pytest
from helpers import REPO

from mumo.apps.cost import ThroughputTable


@pytest.mark.slow
def test_smoke_mode_writes_step_rows_a_finetune_epoch_and_a_throughput_table(tmp_path):
    env = os.environ | {"PYTHONPATH": str(REPO)}
    command = [sys.executable, str(REPO / "benchmarks" / "gpu.py"), "--smoke", "--out", str(tmp_path)]
    subprocess.run(command, check=True, env=env, capture_output=True, timeout=300)
    rows = [json.loads(line) for line in (tmp_path / "gpu-cpu-tiny.jsonl").read_text().splitlines()]
    assert rows[0]["kind"] == "machine" and rows[0]["torch"] and "cuda" in rows[0]
    steps = [r for r in rows if r["kind"] == "step"]
    assert [(r["batch_size"], r["mode"]) for r in steps] == [(1, "eager"), (4, "eager")]
    assert all(r["molecules_per_s"] > 0 and r["step_s"] > 0 for r in steps)
    (epoch,) = [r for r in rows if r["kind"] == "finetune_epoch"]
    assert "error" not in epoch, epoch
    assert epoch["train"] + epoch["valid"] + epoch["test"] == epoch["molecules"] > 0
    assert epoch["wall_s"] > 0 and epoch["train_molecules_per_s"] > 0
    assert "| tiny | eager | 4 |" in (tmp_path / "gpu-cpu-tiny.md").read_text()
    # the throughput rows feed the cost model: measured, not extrapolated, at the swept batch sizes
    table = ThroughputTable.read(tmp_path / "gpu-cpu-tiny-throughput.csv")
    rate = table.rate("tiny", "cpu", 4, "fp32")
    assert not rate.extrapolated and rate.molecules_per_s == steps[1]["molecules_per_cpu_s"]
