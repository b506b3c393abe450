"""Fast checks of profiles/slurm and profiles/slurm-noacct, no cluster needed (not marked `slurm`).

The GPU rules `pretrain`/`finetune` do not exist yet, so their routing is checked on the profile itself (and
end to end on stand-in rules in test_slurm_e2e.py). When the real rules land, add the end-to-end assertion
that their jobs are submitted to the GPU partition with a GPU request.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml
from workflow_facts import group_components, groups, local_rules

REPO = Path(__file__).resolve().parents[2]
PROFILE = REPO / "profiles" / "slurm"
NOACCT = REPO / "profiles" / "slurm-noacct"
GPU_RULES = ("pretrain", "finetune", "conformer_robustness")
FUTURE_RULES = set(GPU_RULES)  # named in the profile before the rules exist


@pytest.fixture(scope="module")
def profile() -> dict:
    return yaml.safe_load((PROFILE / "config.yaml").read_text())


@pytest.fixture(scope="module")
def workflow_rules() -> set[str]:
    done = subprocess.run(
        [sys.executable, "-m", "snakemake", "--list-rules", "--configfile", str(REPO / ".test/config/config.yaml")],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return {line.strip() for line in done.stdout.splitlines() if re.fullmatch(r"\s*[a-z0-9_]+\s*", line)}


def test_profile_uses_the_slurm_executor_with_retries(profile):
    assert profile["executor"] == "slurm"
    assert profile["retries"] >= 1 and profile["rerun-incomplete"] is True
    assert profile["default-resources"]["slurm_partition"]
    for key in ("runtime", "mem_mb"):
        assert key in profile["default-resources"]


@pytest.mark.parametrize("rule", GPU_RULES)
def test_gpu_rules_would_go_to_the_gpu_partition_with_a_gpu_request(profile, rule):
    res = profile["set-resources"][rule]
    cpu_partition = profile["default-resources"]["slurm_partition"]
    assert res["slurm_partition"] != cpu_partition
    assert res["slurm_partition"] == profile["set-resources"][GPU_RULES[0]]["slurm_partition"]
    gpu, gres = int(res.get("gpu", 0)), str(res.get("gres", ""))
    assert (gpu >= 1) != ("gpu" in gres), (
        "exactly one of gpu/gres must ask for GPUs (the plugin rejects both)"
    )
    if gpu:
        assert re.fullmatch(r"[A-Za-z0-9_.]+", str(res["gpu_model"])), "gpu_model: the GRES type, e.g. a100"
    assert "constraint" in res
    extra = str(res.get("slurm_extra", ""))
    assert not re.search(r"--gres|--gpus|-G\b", extra), "GPUs belong in gpu/gpu_model/gres, not slurm_extra"
    assert res["cpus_per_task"] == profile["set-threads"][rule], "set-threads and cpus_per_task disagree"
    assert "runtime" in res and "mem_mb" in res


def test_pretraining_is_one_multi_gpu_job(profile):
    assert int(profile["set-resources"]["pretrain"]["gpu"]) >= 2
    assert int(profile["set-resources"]["finetune"]["gpu"]) == 1


def test_no_cpu_rule_asks_for_a_gpu_or_another_partition(profile, workflow_rules):
    cpu_partition = profile["default-resources"]["slurm_partition"]
    gpu_keys = {"gpu", "gpu_model", "gres", "gpus", "cpus_per_gpu"}
    assert not gpu_keys & set(profile["default-resources"])
    for rule, res in profile["set-resources"].items():
        if rule in GPU_RULES:
            continue
        assert rule in workflow_rules, f"set-resources names {rule!r}, which is not a rule (typo?)"
        assert res.get("slurm_partition", cpu_partition) == cpu_partition
        assert not gpu_keys & set(res), (rule, res)
    for rule in profile.get("set-threads", {}):
        assert rule in workflow_rules | FUTURE_RULES, f"set-threads names {rule!r}, which is not a rule"


def test_noacct_overlay_switches_status_queries_to_squeue_and_drops_the_account():
    overlay = yaml.safe_load((NOACCT / "config.yaml").read_text())
    assert overlay == {"slurm-status-command": "squeue", "slurm-no-account": True}


@pytest.mark.slow  # snakemake plans a run
def test_dry_run_through_the_profile_routes_gpu_rules_to_gpus_and_the_rest_to_cpu(profile, tmp_path):
    """Snakemake itself reads the profile (every key must be a valid option, every expression must evaluate)."""
    config = yaml.safe_load((REPO / ".test" / "config" / "config.yaml").read_text())
    for options in config["datasets"].values():
        options["path"] = str(REPO / options["path"])
    config["results_dir"] = str(tmp_path / "results")
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    done = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path),
         "--configfile", str(tmp_path / "config.yaml"), "--profile", str(PROFILE), "--workflow-profile", "none"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-3000:]
    jobs = re.findall(r"\n(?:    )?rule (\w+):\n(.*?)\n(?=\S)", done.stdout, flags=re.S)  # grouped: indented
    assert len(jobs) > 10
    seen = set()
    for rule, body in jobs:
        if rule == "all":
            continue
        seen.add(rule)
        resources = dict(re.findall(r"(\w+)=([^,\n]+)", re.search(r"resources: (.*)", body).group(1)))
        if rule in GPU_RULES:
            assert resources["slurm_partition"] == profile["set-resources"][rule]["slurm_partition"], (
                resources
            )
            assert int(resources["gpu"]) == profile["set-resources"][rule]["gpu"], (rule, resources)
        else:
            assert resources["slurm_partition"] == profile["default-resources"]["slurm_partition"], (
                rule,
                resources,
            )
            assert not {"gpu", "gpu_model", "gres"} & set(resources), (rule, resources)
        assert "runtime" in resources and "mem_mb" in resources, (rule, resources)
        # set-resources and set-threads win over the rule's own values (default-resources only fill gaps)
        for key in ("runtime", "mem_mb"):
            if key in profile["set-resources"].get(rule, {}):
                expected = eval(str(profile["set-resources"][rule][key]), {"attempt": 1})  # noqa: S307
                assert int(resources[key]) == expected, (rule, key, resources)
        if rule in profile.get("set-threads", {}):
            threads = re.search(r"threads: (\d+)", body)
            assert int(threads.group(1) if threads else 1) == profile["set-threads"][rule], rule
    assert {
        "train_ecfp_rf",
        "standardise",
        "aggregate",
        "pretrain",
        "finetune",
        "conformer_robustness",
    } <= seen


def test_groups_hold_cpu_rules_only_and_local_rules_are_neither_grouped_nor_gpu(profile, workflow_rules):
    grouped, components = groups(profile), group_components(profile)
    assert set(grouped) <= workflow_rules, set(grouped) - workflow_rules
    assert not set(grouped) & set(GPU_RULES), "a group of GPU jobs would ask for the sum of their GPUs"
    assert set(components) == set(grouped.values())
    assert all(n >= 1 for n in components.values())
    assert local_rules() <= workflow_rules, local_rules() - workflow_rules
    assert not local_rules() & (set(grouped) | set(GPU_RULES))
    assert {"download", "fetch_dataset", "fetch_authors", "import_checkpoint"} <= local_rules(), (
        "the downloads need the login node's internet"
    )
    # `cores` bounds a group job's width; it also caps every rule's threads, so it must not cut the GPU jobs'
    assert profile["cores"] >= max(profile["set-threads"].values())


def submissions(dry_run_output: str) -> Counter:
    """What a dry run through the profile plans, as kind -> count: `group` jobs (one SLURM job each), `plain`
    jobs outside any group (one SLURM job each) and `local` jobs (the workflow's localrules but `all`, run by
    snakemake itself). Grouped jobs are printed indented, under their `Group job` line."""
    plain = Counter(re.findall(r"\nrule (\w+):", dry_run_output))
    plain.pop("all", None)
    local = sum(n for rule, n in plain.items() if rule in local_rules())
    return Counter(
        group=len(re.findall(r"Group job \w+", dry_run_output)),
        plain=sum(plain.values()) - local,
        local=local,
    )


@pytest.mark.slow
def test_the_paper_config_submits_about_500_slurm_jobs(tmp_path):
    """Issue #15: ~1,150 Snakemake jobs (one finetune per model, dataset and split) become under 500 SLURM
    submissions with the documented command: the GPU jobs alone, the CPU rules in groups, the rest local."""
    done = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path),
         "--configfile", str(REPO / "config" / "paper.yaml"), "--profile", str(PROFILE), "--workflow-profile", "none"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-3000:]
    planned = submissions(done.stdout)
    finetunes = len(re.findall(r"\nrule finetune:", done.stdout))
    assert finetunes == 476  # 68 (dataset, split) pairs × 7 models
    # + one pretraining per pretrained model and the one conformer-robustness job: nothing else
    assert planned["plain"] == finetunes + 5 + 1, planned
    assert planned["local"] > 50 and planned["group"] > 4, planned
    assert planned["group"] + planned["plain"] <= 500, planned
