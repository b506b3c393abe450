"""End to end on a real (local, single-node) SLURM cluster, through profiles/slurm.

1. The tiny .test config through `snakemake --profile profiles/slurm` (+ a test overlay that only shrinks
   runtimes, memory, CPUs and polling): the workflow's `localrules` run in snakemake's own process, the CPU
   rules go out in the profile's groups (one SLURM job runs several of them) and every other job alone; each
   submission shows in sacct, in the partition its resources name (GPU rules with a GPU, the others without);
   the results equal a local `--cores 2` run of the same config.
2. Stand-ins for the GPU rules (tests/slurm/stub: named like them, no training), on a second cluster without
   accounting (no slurmdbd:
   `sacct` fails) through profiles/slurm + profiles/slurm-noacct: `pretrain`/`finetune`, with the profile's
   own partition, GPU model and constraint, land in the gpu partition with GPUs; `pretrain` is one job whose
   torchrun ranks see one GPU each (CUDA_VISIBLE_DEVICES); a CPU job that fails once is retried and its
   half-written output from the failed attempt does not survive.

The tiny config trains MuMo too, so its real `pretrain`/`finetune` jobs must land in the gpu partition with a
GPU request (on this CPU node the fake GPU leaves torch on the CPU) while every other rule stays on `cpu`;
the real `pretrain` job runs one torchrun rank per GPU it was given (gloo ranks on this CPU node).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
import yaml
from workflow_facts import group_of_comment, groups, local_rules

REPO = Path(__file__).resolve().parents[2]
PROFILE = REPO / "profiles" / "slurm"
NOACCT = REPO / "profiles" / "slurm-noacct"
STUB = Path(__file__).resolve().parent / "stub" / "Snakefile"
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
TEST_MEM_MB = 800  # per job; the test node has 16 GB
TEST_RUNTIME_MIN = 5
TEST_GROUP_CPUS = 2  # `cores`: the widest a group job gets on the 6-CPU test node
RUN_TIMEOUT_S = 1200  # past it, a hang (e.g. status queries that never answer) is a failure
GPU_RULES = ("pretrain", "finetune", "conformer_robustness")
MUMO_RTOL = 1e-3  # float32 training: see the comparison in the end-to-end test

pytestmark = pytest.mark.slurm


# ---- helpers ---------------------------------------------------------------------------------------------
def tiny_config(directory: Path) -> Path:
    """A copy of .test/config/config.yaml with absolute dataset paths and its results under `directory`."""
    config = yaml.safe_load((REPO / ".test" / "config" / "config.yaml").read_text())
    for options in config["datasets"].values():
        options["path"] = str(REPO / options["path"])
    config["results_dir"] = str(directory / "results")
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def load_profile(folder: Path) -> dict:
    return yaml.safe_load((folder / "config.yaml").read_text())


def shrink(resources: dict, cluster) -> dict:
    """The profile's resources with runtime, memory, CPUs and GPU counts cut to what the test node has; the
    routing keys (partition, GPU model, constraint, gres type) stay exactly as the profile says."""
    out = dict(resources)
    if "runtime" in out:
        out["runtime"] = TEST_RUNTIME_MIN
    if "mem_mb" in out:
        out["mem_mb"] = TEST_MEM_MB
    if "cpus_per_task" in out:
        out["cpus_per_task"] = 1
    if "gpu" in out:
        out["gpu"] = min(int(out["gpu"]), cluster.gpus)
    return out


def write_overlay(path: Path, cluster, **settings) -> Path:
    """A profile to give after profiles/slurm (later profiles replace whole top-level keys): the main profile's
    own resource blocks, shrunk for the small test node, faster status polling, no retries unless asked."""
    profile = load_profile(PROFILE)
    overlay = {
        "jobs": 8,
        "latency-wait": 5,
        "retries": 0,
        "keep-going": False,
        "slurm-init-seconds-before-status-checks": 2,  # polls at 2, 14, 36 s...
        "slurm-keep-successful-logs": True,
        "default-resources": shrink(profile["default-resources"], cluster),
        "set-resources": {rule: shrink(res, cluster) for rule, res in profile["set-resources"].items()},
        "set-threads": {rule: 1 for rule in profile.get("set-threads", {})},
        "cores": TEST_GROUP_CPUS,
        **settings,
    }
    overlay["set-threads"]["train_ecfp_rf"] = 2  # still a multi-threaded job
    if cluster.accounting:
        overlay["default-resources"]["slurm_account"] = cluster.account  # checked by the plugin with sacctmgr
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.yaml").write_text(yaml.safe_dump(overlay))
    return path


def run_through_slurm(cluster, *args: str) -> tuple[subprocess.CompletedProcess, float]:
    """snakemake with the given arguments, inside the cluster's namespaces; SIGTERM after RUN_TIMEOUT_S, SIGKILL
    10 s later (a hung snakemake ignores SIGTERM)."""
    command = ["timeout", "-k", "10", str(RUN_TIMEOUT_S), *cluster.wrap([*SNAKEMAKE, "--verbose", *args])]
    start = time.monotonic()
    done = subprocess.run(
        command, env=cluster.env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S + 30
    )
    return done, time.monotonic() - start


def explain(done: subprocess.CompletedProcess) -> str:
    return f"rc={done.returncode}\n--- stdout:\n{done.stdout[-4000:]}\n--- stderr:\n{done.stderr[-8000:]}"


def finished_in_groups(workdir: Path) -> Counter:
    """rule -> 'Finished jobid' lines in the SLURM group jobs' own logs. Each job of a group is reported twice
    there: by the snakemake that `srun` started for it, and by the group job's snakemake that started it."""
    logs = (workdir / ".snakemake" / "slurm_logs").glob("group_*/**/*.log")
    return Counter(
        rule for log in logs for rule in re.findall(r"Finished jobid: \d+ \(Rule: (\w+)\)", log.read_text())
    )


def job_stats(log: str) -> Counter:
    """Snakemake's 'Job stats' table (the first one in the log) as rule -> count."""
    table = log[log.index("Job stats:") :].splitlines()[3:]
    counts = Counter()
    for line in table:
        parts = line.split()
        if len(parts) != 2 or parts[0] == "total":
            break
        counts[parts[0]] = int(parts[1])
    return counts


def run_id(log: str) -> str:
    match = re.search(r"SLURM run ID: (\S+)", log)
    assert match, "the slurm executor did not log its run ID"
    return match.group(1)


def sbatch_calls(log: str) -> dict[str, str]:
    """rule -> sbatch command line, for each job (several jobs of one rule: the last one)."""
    calls = re.findall(r"sbatch call: (sbatch .*)", log)
    return {
        re.search(r"--comment '?rule_([a-z0-9_]+?)(?:_wildcards_[^' ]*)?'? ", call).group(1): call
        for call in calls
    }


def submitted_ids(log: str) -> list[str]:
    return re.findall(r"has been submitted with SLURM jobid (\d+)", log)


def rule_of(row: dict) -> str:
    """The rule of a job, from the comment the plugin gives every job (rule_<name>[_wildcards_...])."""
    match = re.match(r"rule_([a-z0-9_]+?)(?:_wildcards_.*)?$", row["Comment"])
    assert match, f"a job without the plugin's rule comment: {row}"
    return match.group(1)


def expected_partition(rule: str, profile: dict) -> str:
    return (
        profile["set-resources"]
        .get(rule, {})
        .get("slurm_partition", profile["default-resources"]["slurm_partition"])
    )


def assert_same_numbers(left: pd.DataFrame, right: pd.DataFrame, what: str, rtol: float = 1e-9) -> None:
    keys = [c for c in left.columns if not pd.api.types.is_numeric_dtype(left[c])]
    left = left.sort_values(keys or list(left.columns)).reset_index(drop=True)
    right = right.sort_values(keys or list(right.columns)).reset_index(drop=True)
    try:
        pd.testing.assert_frame_equal(left, right, check_exact=False, rtol=rtol, atol=rtol * 1e-3)
    except AssertionError as err:
        raise AssertionError(f"{what} differs between the SLURM run and the local run: {err}") from None


# ---- 1. the tiny workflow ---------------------------------------------------------------------------------
def test_tiny_workflow_runs_through_the_slurm_profile_like_a_local_run(slurm_cluster, tmp_path):
    cluster = slurm_cluster
    local_dir, slurm_dir = tmp_path / "local", tmp_path / "slurm"
    local_config, slurm_config = tiny_config(local_dir), tiny_config(slurm_dir)
    overlay = write_overlay(tmp_path / "overlay", cluster)
    ranks = min(int(load_profile(PROFILE)["set-resources"]["pretrain"]["gpu"]), cluster.gpus)

    # The reference local run goes on meanwhile: the SLURM run mostly waits on status polls. It pretrains with
    # as many ranks as the SLURM job has GPUs (a rank's batch is per device), so the numbers can be compared.
    local_log = tmp_path / "local.log"
    with open(local_log, "w") as out:
        local = subprocess.Popen(
            [*SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--directory", str(local_dir),
             "--configfile", str(local_config), "--cores", "2", "--workflow-profile", "none",
             "--set-resources", f"pretrain:gpu={ranks}"],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        done, seconds = run_through_slurm(
            cluster,
            "--snakefile", str(REPO / "Snakefile"), "--directory", str(slurm_dir), "--configfile", str(slurm_config),
            "--profile", str(PROFILE), "--profile", str(overlay), "--workflow-profile", "none",
        )  # fmt: skip
    finally:
        try:
            local_rc = local.wait(timeout=RUN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            local.kill()
            raise
    print(f"SLURM run: {seconds:.1f} s")
    assert done.returncode == 0, f"snakemake through SLURM failed: {explain(done)}"
    assert local_rc == 0, f"the local reference run failed:\n{local_log.read_text()[-6000:]}"
    log = done.stdout + done.stderr
    assert "command=sacct" in log, "with accounting, the profile's default status command is sacct"

    # Every job of the DAG went where the workflow and the profile send it: the localrules (and the target
    # `all`) nowhere, the grouped rules inside group jobs, every other job (the GPU rules) in a SLURM job of
    # its own.
    profile = load_profile(PROFILE)
    grouped = groups(profile)
    expected = job_stats(local_log.read_text())
    local = {rule: n for rule, n in expected.items() if rule in local_rules()}
    in_groups = Counter({rule: n for rule, n in expected.items() if rule in grouped})
    alone = Counter({rule: n for rule, n in expected.items() if rule not in local and rule not in grouped})
    assert set(alone) == set(GPU_RULES), alone
    assert expected["pretrain"] == 2 and expected["finetune"] > 0, expected  # mumo and mumo_seq_only
    assert local["aggregate"] == 1 and in_groups["train_ecfp_rf"] > 0 and in_groups["split"] > 0, expected
    assert finished_in_groups(slurm_dir) == in_groups + in_groups, "not every grouped job ran in a group job"
    group_jobs = re.findall(r"Group job (\w+)", log)
    assert set(group_jobs) == {grouped[rule] for rule in in_groups}, group_jobs
    submissions = sum(alone.values()) + len(group_jobs)
    assert len(group_jobs) < sum(in_groups.values())
    assert len(re.findall(r"sbatch call: sbatch ", log)) == submissions
    ids = submitted_ids(log)
    assert len(ids) == submissions

    # sacct agrees: one allocation per submission, all of this run, all completed, each GPU rule as often as in
    # the DAG, each group as often as snakemake formed it, each in the partition its resources name: the GPU
    # rules (MuMo training) in `gpu` with a GPU allocated, the group jobs in `cpu` without one, never wider
    # than `cores`.
    rows = cluster.sacct("--name", run_id(log))
    assert sorted(r["JobIDRaw"] for r in rows) == sorted(ids)
    assert {r["State"] for r in rows} == {"COMPLETED"}, rows
    group_rows = [r for r in rows if group_of_comment(r["Comment"], set(grouped.values()))]
    assert Counter(group_of_comment(r["Comment"], set(grouped.values())) for r in group_rows) == Counter(
        group_jobs
    )
    assert Counter(rule_of(r) for r in rows if r not in group_rows) == alone
    for row in rows:
        gpu_rule = row not in group_rows and rule_of(row) in GPU_RULES
        partition = expected_partition(rule_of(row), profile) if gpu_rule else "cpu"
        assert row["Partition"] == partition == ("gpu" if gpu_rule else "cpu"), row
        assert ("gres/gpu" in row["AllocTRES"]) == gpu_rule, row
        assert row["Account"] == cluster.account
    for rule, call in sbatch_calls(log).items():
        if rule in GPU_RULES:
            assert " -p gpu " in call and "--gpus=" in call and "--gres" not in call, (rule, call)
        else:
            assert " -p cpu " in call and "--gpus" not in call and "--gres" not in call, (rule, call)
    cpus = {int(re.search(r"cpu=(\d+)", r["AllocTRES"]).group(1)) for r in group_rows}
    assert max(cpus) == TEST_GROUP_CPUS, (
        "a group job is as wide as `cores` allows (train_ecfp_rf alone has 2 threads)"
    )

    # Same results as the local run.
    local_results, slurm_results = local_dir / "results", slurm_dir / "results"
    # pretrain: one job, the rule started torchrun with one rank per allocated (here: fake) GPU
    for results in (slurm_results, local_results):
        summaries = sorted((results / "pretrain").glob("*/summary.json"))
        assert len(summaries) == expected["pretrain"]
        assert all(json.loads(p.read_text())["world_size"] == ranks for p in summaries), summaries
    for log_file in (slurm_results / "logs" / "pretrain").glob("*.log"):
        assert f"launching {ranks} ranks" in log_file.read_text(), log_file
    # MuMo trains in float32, and inside a SLURM step the same seeded run differs from the local one in the
    # 5th-7th digit (seen: up to 1.5e-5 relative); a real difference (other data, seed or settings) is orders of
    # magnitude larger. Forests and data are compared exactly.
    assert_same_numbers(
        pd.read_csv(slurm_results / "data_report.csv"),
        pd.read_csv(local_results / "data_report.csv"),
        "data_report",
    )
    slurm_table, local_table = (pd.read_csv(r / "table.csv") for r in (slurm_results, local_results))
    for mumo in (False, True):
        slurm_rows = slurm_table[slurm_table["model"].str.startswith("mumo") == mumo]
        local_rows = local_table[local_table["model"].str.startswith("mumo") == mumo]
        assert_same_numbers(slurm_rows, local_rows, "table.csv", MUMO_RTOL * 10 if mumo else 1e-9)
    predictions = sorted(
        p.relative_to(local_results) for p in local_results.glob("runs/*/*/*/*/predictions.csv")
    )
    seeds = len(yaml.safe_load(local_config.read_text())["seeds"])  # each training job ran every seed
    assert (
        len(predictions)
        == (expected["train_mean"] + expected["train_ecfp_rf"] + expected["finetune"]) * seeds
    )
    for relative in predictions:
        rtol = MUMO_RTOL if relative.parts[1].startswith("mumo") else 1e-9
        assert_same_numbers(
            pd.read_csv(slurm_results / relative), pd.read_csv(local_results / relative), str(relative), rtol
        )
    assert (slurm_results / "figures" / "metrics.png").stat().st_size > 10_000


# ---- 2. GPU stand-ins, retries, on a cluster without accounting ----------------------------------------------
def test_gpu_rules_go_to_the_gpu_partition_on_a_cluster_without_accounting(slurm_cluster_noacct, tmp_path):
    cluster = slurm_cluster_noacct
    assert cluster.run("sacct", "-X", check=False).returncode != 0, "this cluster should have no accounting"
    workdir = tmp_path / "work"
    workdir.mkdir()
    overlay = write_overlay(tmp_path / "overlay", cluster, retries=1)

    done, seconds = run_through_slurm(
        cluster,
        "--snakefile", str(STUB), "--directory", str(workdir),
        "--profile", str(PROFILE), "--profile", str(NOACCT), "--profile", str(overlay), "--workflow-profile", "none",
    )  # fmt: skip
    print(f"stub run without accounting: {seconds:.1f} s")
    assert done.returncode == 0, f"the stub workflow failed through SLURM: {explain(done)}"
    log = done.stdout + done.stderr
    assert "command=squeue" in log and "command=sacct" not in log, "job states must come from squeue here"

    profile = load_profile(PROFILE)
    calls = sbatch_calls(log)
    assert set(calls) == {"pretrain", "finetune", "prepare", "flaky"}
    assert all(" -A " not in call for call in calls.values()), calls
    for rule in ("pretrain", "finetune"):
        res, call = profile["set-resources"][rule], calls[rule]
        assert f" -p {res['slurm_partition']} " in call, call
        assert f"--gpus={res['gpu_model']}:{min(int(res['gpu']), cluster.gpus)}" in call, call
        assert f" -C {res['constraint']} " in call, call
        assert "--gres" not in call, call
    assert " -p cpu " in calls["prepare"] and "--gpus" not in calls["prepare"]

    # What slurmctld says about this run's jobs (no sacct here): partition, state, GPUs allocated.
    by_rule: dict[str, list[dict]] = {}
    for job in cluster.jobs():
        if job["JobName"] == run_id(log):
            by_rule.setdefault(rule_of(job), []).append(job)
    for rule in ("pretrain", "finetune"):
        (job,) = by_rule[rule]
        gpus = min(int(profile["set-resources"][rule]["gpu"]), cluster.gpus)
        assert job["Partition"] == "gpu" and job["JobState"] == "COMPLETED", job
        assert job["TresPerJob"] == f"gres:gpu:{profile['set-resources'][rule]['gpu_model']}:{gpus}", job
    (prepare,) = by_rule["prepare"]
    assert prepare["Partition"] == "cpu" and "gpu" not in prepare["TresPerJob"], prepare
    flaky = sorted(by_rule["flaky"], key=lambda j: int(j["JobId"]))
    assert [j["JobState"] for j in flaky] == ["FAILED", "COMPLETED"], flaky

    # pretrain: one SLURM job, torchrun started one rank per allocated GPU.
    world = min(int(profile["set-resources"]["pretrain"]["gpu"]), cluster.gpus)
    visible = ",".join(str(i) for i in range(world))
    assert sorted((workdir / "pretrain" / "ranks.txt").read_text().splitlines()) == [
        f"rank={i} local_rank={i} world_size={world} cuda_visible_devices={visible} slurm_job_partition=gpu"
        for i in range(world)
    ]
    assert (workdir / "finetune" / "env.txt").read_text().split() == ["partition=gpu", "cuda=0"]
    assert (workdir / "prepare" / "env.txt").read_text().split() == ["partition=cpu", "cuda=none"]
    # the retried job: the half-written output of its failed first attempt did not survive
    assert (workdir / "flaky" / "out.txt").read_text() == "complete\n"
