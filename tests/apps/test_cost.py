import json
from dataclasses import replace

import pytest
from helpers import REPO

from mumo.apps import cost
from mumo.apps.cost import (
    STARTUP_S,
    Bill,
    CostError,
    JobKey,
    ThroughputTable,
    estimate,
    fold_sizes,
    job_seconds,
    jobs,
    load_config,
    size_job,
)
from mumo.cli import main
from mumo.plan import Plan

TINY_CONFIG = REPO / ".test" / "config" / "config.yaml"
PAPER_CONFIG = REPO / "config" / "paper.yaml"


def test_jobs_of_the_tiny_config_are_the_plans_runs_and_pretrainings():
    plan = Plan.from_config(load_config(TINY_CONFIG))
    found = jobs(plan)
    runs = [(j.model, j.dataset, j.split, j.seed) for j in found if j.rule != "pretrain"]
    assert runs == plan.runs()
    assert [j.model for j in found if j.rule == "pretrain"] == plan.pretrained_models()
    # the baseline is counted but runs on CPU; MuMo finetunes size their folds from the CSV (150 rows)
    assert {j.rule for j in found if j.model == "ecfp_rf"} == {"baseline"}
    esol = next(j for j in found if j.rule == "finetune" and j.dataset == "esol_mini")
    assert (esol.train, esol.valid, esol.test) == (120, 15, 15)
    pretrain = next(j for j in found if j.rule == "pretrain")
    assert pretrain.train + pretrain.valid == 150  # mumo.corpus.n_molecules


def test_the_seeds_of_a_finetune_job_pay_one_start_up():
    plan = Plan.from_config(load_config(TINY_CONFIG))
    finetunes = [j for j in jobs(plan) if j.rule == "finetune"]
    groups = {(j.model, j.dataset, j.split) for j in finetunes}
    assert len(finetunes) > len(groups)  # several seeds per (model, dataset, split)
    assert sorted((j.model, j.dataset, j.split) for j in finetunes if j.startups == 1) == sorted(groups)
    assert {j.startups for j in finetunes} == {0, 1}
    pretrain = jobs(plan, gpus=4)[0]
    assert pretrain.rule == "pretrain" and pretrain.startups == 4  # one per DDP process
    later_seed = next(j for j in finetunes if j.startups == 0)
    assert job_seconds(later_seed, rate=10.0) == pytest.approx(
        later_seed.train_passes / 10 + later_seed.forward_passes / 30
    )


def test_molecule_passes_and_steps_of_a_hand_checked_job():
    settings = {"preset": "tiny", "epochs": 3, "batch_size": 4, "grad_accum": 2}
    job = size_job(JobKey("finetune", "mumo", "d", "random", 0), settings, (50, 10, 7))
    # 13 micro-batches per epoch -> 6 optimizer steps of 8 molecules; 18 steps use 144 of 3 × 50 molecules;
    # validation once per epoch (3 × 10), then the valid and test folds predicted once (17)
    assert (job.steps, job.train_passes, job.forward_passes) == (18, 144, 47)
    assert job_seconds(job, rate=10.0) == pytest.approx(144 / 10 + 47 / 30 + STARTUP_S)
    every_4 = size_job(
        JobKey("finetune", "mumo", "d", "random", 0), settings | {"eval_every": 4}, (50, 10, 7)
    )
    assert every_4.forward_passes == 5 * 10 + 17  # steps 4, 8, 12, 16 and the last (18)
    two_gpus = size_job(JobKey("pretrain", "mumo", "c"), settings, (50, 10, 0), processes=2, predicts=False)
    assert (two_gpus.steps, two_gpus.train_passes, two_gpus.forward_passes) == (9, 144, 30)


def test_fold_sizes_follow_the_split_fractions_and_tdcs_layout():
    assert fold_sizes(1000, "random", [0.8, 0.1, 0.1], tdc=False) == (800, 100, 100)
    assert fold_sizes(1000, "tdc", [0.8, 0.1, 0.1], tdc=True) == (700, 100, 200)
    assert fold_sizes(1000, "authors", [0.7, 0.2, 0.1], tdc=True) == (700, 100, 200)


def test_unknown_device_lists_the_known_ones():
    with pytest.raises(CostError, match=r"unknown device 'tpu'; known devices: a100, cpu, h100"):
        estimate(TINY_CONFIG, "tpu", 1)


def test_nearest_batch_is_flagged_and_a100_is_scaled_from_h100():
    table = ThroughputTable.read()
    exact = table.rate("paper", "h100", 32, "bf16")
    assert not exact.extrapolated
    near = table.rate("fixed", "h100", 128, "bf16")  # fixed has paper's widths; batch 128 not measured
    assert near.extrapolated and near.row["batch_size"] == 32 and near.row["preset"] == "paper"
    a100 = table.rate("paper", "a100", 32, "bf16")
    assert a100.molecules_per_s == pytest.approx(exact.molecules_per_s * 312 / 989)
    with pytest.raises(CostError, match=r"no throughput for preset 'paper' on cpu"):
        table.rate("paper", "cpu", 32, "fp32")


def test_measured_rows_from_a_benchmark_file_replace_the_tables(tmp_path):
    extra = tmp_path / "gpu-h100-paper-throughput.csv"
    extra.write_text(
        "preset,device,batch_size,precision,molecules_per_s,source\n"
        "paper,h100,32,bf16,600,test\npaper,h100,1,fp32,20,test\n"
    )
    table = ThroughputTable.read(extra)
    assert table.rate("paper", "h100", 32, "bf16").molecules_per_s == 600
    assert not table.rate("paper", "h100", 1, "fp32").extrapolated
    bad = tmp_path / "bad.csv"
    bad.write_text("preset,device,batch_size\npaper,h100,32\n")
    with pytest.raises(CostError, match=r"bad.csv: throughput table lacks column\(s\)"):
        ThroughputTable.read(bad)


def test_finetunes_are_packed_greedily_and_pretraining_uses_every_gpu():
    plan = Plan.from_config(load_config(TINY_CONFIG))
    finetune = next(j for j in jobs(plan) if j.rule == "finetune")
    pretrain = replace(finetune, rule="pretrain")
    others = [replace(finetune, dataset=f"set{i}") for i in range(5)]  # five jobs of their own
    bill = Bill("cpu", 2, [pretrain, *others], [3600.0 * 4, *(3600.0 * h for h in (5, 4, 3, 3, 3))], {})
    # longest first onto the least-loaded device: 5 | 4, +3 -> 7, +3 -> 8, +3 -> 10
    assert bill.wall_hours() == (2.0, 10.0)
    assert bill.hours("finetune") == 18.0 and bill.hours() == 22.0


def test_the_seeds_of_a_finetune_job_share_its_device():
    """Three seeds of one (model, dataset, split) run one after another in one job: 3 h on one of 3 devices."""
    finetune = next(j for j in jobs(Plan.from_config(load_config(TINY_CONFIG))) if j.rule == "finetune")
    seeds = [replace(finetune, seed=seed) for seed in range(3)]
    assert Bill("cpu", 3, seeds, [3600.0] * 3, {}).wall_hours() == (0.0, 3.0)
    other = replace(finetune, split="random")
    assert Bill("cpu", 3, [*seeds, other], [3600.0] * 4, {}).wall_hours() == (0.0, 3.0)


def test_the_paper_config_has_a_bill_with_both_parts():
    bill = estimate(PAPER_CONFIG, "a100", 4)
    summary = bill.summary()
    assert summary["gpu_hours"]["pretrain"] > 0 and summary["gpu_hours"]["finetune"] > 0
    assert summary["jobs"]["pretrain"] == len(Plan.from_config(load_config(PAPER_CONFIG)).pretrained_models())
    assert {j.rule for j in bill.jobs if j.model == "chemprop"} == {"baseline"}  # on CPU: counted, not priced
    assert summary["wall_hours"]["total"] >= summary["gpu_hours"]["total"] / 4
    # the paper's finetune batches (1-10, fp32) are not measured: their rates are flagged
    assert any(r["extrapolated"] and r["batch_size"] == 1 for r in summary["rates"])


def test_cli_prints_the_bill_and_json(capsys):
    assert main(["cost", "--configfile", str(TINY_CONFIG), "--device", "cpu", "--gpus", "2"]) == 0
    text = capsys.readouterr().out
    assert "GPU time: " in text and "wall time on 2 × cpu" in text
    assert main(["cost", "--configfile", str(TINY_CONFIG), "--device", "cpu", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["jobs"] == {"pretrain": 2, "finetune": 12, "baseline": 12}  # ecfp_rf and mean
    assert main(["cost", "--configfile", str(TINY_CONFIG), "--device", "v100"]) == 1
    assert "unknown device 'v100'" in capsys.readouterr().err


def test_a_finetune_is_priced_by_hand():
    """2 epochs of 100 molecules and 3 forward passes (2 validations + 1 prediction) of 30 at 10 molecules/s,
    molecules of 32 tokens (half the table's 64): (2·100 + 3·30/3) / 10 · 32/64 + 10 s start-up = 21.5 s."""
    seconds = cost.finetune_seconds(10.0, train=100, predicted=30, epochs=2, mean_tokens=32, evaluations=2)
    assert seconds == pytest.approx(21.5)
