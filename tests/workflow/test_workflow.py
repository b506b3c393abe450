"""The whole DAG on the tiny .test config: complete run, no-op rerun, partial rebuild, report, bad configs."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from helpers import REPO

from mumo.chem.store import StructureStore
from mumo.eval.aggregate import TABLE_COLUMNS
from mumo.eval.compare import COMPARISON_COLUMNS

pytestmark = pytest.mark.slow  # every test starts Snakemake, most run the tiny pipeline

SNAKEMAKE = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile")]


def tiny_config(tmp_path: Path, **overrides) -> Path:
    config = yaml.safe_load((REPO / ".test" / "config" / "config.yaml").read_text())
    for options in config["datasets"].values():
        options["path"] = str(REPO / options["path"])
    config["results_dir"] = str(tmp_path / "results")
    config.update(overrides)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def snakemake(tmp_path: Path, config: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    command = [*SNAKEMAKE, "--directory", str(tmp_path), "--configfile", str(config), "--cores", "2", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-6000:]}")
    return done


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> tuple[Path, Path]:
    tmp_path = tmp_path_factory.mktemp("workflow")
    config = tiny_config(tmp_path)
    snakemake(tmp_path, config)
    return tmp_path, config


def test_the_tiny_pipeline_produces_table_figures_and_data_report(finished_run):
    tmp_path, _ = finished_run
    results = tmp_path / "results"
    table = pd.read_csv(results / "table.csv")
    assert list(table.columns) == TABLE_COLUMNS
    assert set(table["dataset"]) == {"bbbp_mini", "esol_mini", "tox21_mini"}
    assert (table["n_seeds"] == 2).sum() > 0
    assert set(table["model"]) == {"mean", "ecfp_rf", "mumo", "mumo_seq_only"}
    # every score is finite but a correlation of the mean baseline's constant predictions (undefined: NaN,
    # counted as no seed)
    undefined = table["mean"].isna()
    assert (undefined == (table["n_seeds"] == 0)).all()
    assert set(table.loc[undefined, "model"]) == {"mean"}
    assert set(table.loc[undefined, "metric"]) == {"pearson", "spearman"}
    assert "macro" in set(table.loc[table["dataset"] == "tox21_mini", "task"])
    comparisons = pd.read_csv(results / "comparisons.csv")
    assert list(comparisons.columns) == COMPARISON_COLUMNS
    # per dataset: the three other models against the best baseline, mumo against its ablation; both seeds
    assert comparisons.groupby("dataset")["comparison"].value_counts().to_dict() == {
        (dataset, comparison): count
        for dataset in ("bbbp_mini", "esol_mini", "tox21_mini")
        for comparison, count in (("best baseline", 3), ("ablation", 1))
    }
    assert (comparisons["n_pairs"] == 2).all() and set(comparisons["seeds"]) == {"0;1"}
    assert set(comparisons.loc[comparisons["dataset"] == "tox21_mini", "task"]) == {"macro"}
    for name in ("metrics", "comparison", "paired", "ablations", "finetune_curves", "pretrain_curves"):
        assert (results / "figures" / f"{name}.png").stat().st_size > 10_000
        assert (results / "figures" / f"{name}.pdf").stat().st_size > 1_000

    report = pd.read_csv(results / "data_report.csv").set_index("dataset")
    assert (report["kept"] + report["rejected"] == report["raw"]).all()
    rejected = pd.read_csv(results / "data" / "standardised" / "bbbp_mini.rejected.csv")
    assert len(rejected) == report.loc["bbbp_mini", "rejected"] > 0
    predictions = pd.read_csv(results / "runs/ecfp_rf/bbbp_mini/balanced_scaffold/seed0/predictions.csv")
    assert set(predictions["fold"]) == {"valid", "test"}
    assert (results / "logs" / "aggregate.log").exists()
    # what `mumo predict` repeats: the run's fragment policy and conformer settings
    model = results / "runs/mumo/bbbp_mini/balanced_scaffold/seed0/model"
    featurization = json.loads((model / "featurization.json").read_text())
    assert featurization["fragments"] == "largest" and featurization["conformer"]["max_embed_attempts"] == 20


def test_every_molecule_gets_a_structure_outcome(finished_run):
    tmp_path, _ = finished_run
    results = tmp_path / "results"
    outcomes = pd.read_csv(results / "structure_report.csv")
    per_dataset = outcomes.groupby("dataset")["molecules"].sum()
    for dataset, total in per_dataset.items():
        table = pd.read_csv(results / "data" / "standardised" / f"{dataset}.csv")
        assert total == table["canonical_smiles"].nunique()
    assert outcomes.loc[outcomes["outcome"] == "mmff", "molecules"].sum() > 0.9 * per_dataset.sum()
    tables = sorted(p.name for p in (results / "structure" / "datasets").glob("*.npz"))
    assert tables == [f"{dataset}.npz" for dataset in sorted(per_dataset.index)]
    # n_shards 2, but 150 corpus molecules make one shard (mumo.plan.layout.MIN_SHARD_MOLECULES)
    assert sorted(p.name for p in (results / "structure" / "corpus").glob("*.npz")) == ["shard0.npz"]


def test_conformer_robustness_of_every_mumo_seed(finished_run):
    """.test config: 2 other conformer seeds and 2 conformers instead of 1, for the 2 MuMo models' seeds."""
    results = finished_run[0] / "results"
    per_set = pd.read_csv(results / "conformer_robustness.csv")
    summary = pd.read_csv(results / "conformer_robustness_summary.csv")
    molecules = pd.read_csv(results / "conformer_robustness_molecules.csv.gz")
    sets = {"seed42-n1", "seed43-n1", "seed44-n1", "seed42-n2"}
    assert set(per_set["conformer_set"]) == sets and set(per_set["model"]) == {"mumo", "mumo_seq_only"}
    assert len(per_set) == 3 * 2 * 2 * len(sets)  # datasets x seeds x models x sets
    assert len(summary) == 3 * 2 * 2 * 2  # ... x families (other seeds, other number of conformers)
    assert set(summary.loc[summary["varied"] == "conformer_seed", "n_sets"]) == {3}
    # the sequence-only model reads no structure: the zero reference
    seq_only = summary[summary["model"] == "mumo_seq_only"]
    assert (seq_only[["mean_spread", "max_spread", "metric_range"]] == 0).all().all()
    assert (summary.loc[summary["model"] == "mumo", "max_spread"] > 0).all()
    # every test molecule of every seed, counted once per run; the reference repeats the run's predictions
    for (dataset, model, seed), part in molecules.groupby(["dataset", "model", "seed"]):
        run = results / f"runs/{model}/{dataset}/balanced_scaffold/seed{seed}"
        own = pd.read_csv(run / "predictions.csv").query("fold == 'test'")
        merged = part.merge(own, on=["mol_id", "task"], validate="one_to_one")
        assert len(merged) == len(own)
        assert (merged["pred_seed42-n1"] - merged["y_pred"]).abs().max() < 1e-6
        row = summary[
            (summary["dataset"] == dataset) & (summary["model"] == model) & (summary["seed"] == seed)
        ]
        assert (row["n_molecules"] == part["mol_id"].nunique()).all()
    # the 2D-only molecules are counted where the molecules file marks them
    marked = molecules["fallback_sets"].fillna("").str.contains("seed43-n1")
    counted = per_set.loc[per_set["conformer_set"] == "seed43-n1", "n_2d_fallback"].sum()
    assert counted == molecules[marked].drop_duplicates(["dataset", "model", "seed", "mol_id"]).shape[0]
    for name in ("seed43-n1", "seed44-n1", "seed42-n2"):
        assert len(StructureStore(results / "structure" / "robustness" / f"{name}.npz")) > 0
    assert (results / "figures" / "conformer_robustness.png").stat().st_size > 10_000


def test_the_report_script_quotes_the_runs_files(finished_run, tmp_path):
    """benchmarks/claims_report.py, which the study documents quote: its cells are the run's own numbers."""
    results = finished_run[0] / "results"
    spec = importlib.util.spec_from_file_location("claims_report", REPO / "benchmarks" / "claims_report.py")
    report = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(report)

    scores = report.test_table(results).set_index("dataset")
    table = pd.read_csv(results / "table.csv")
    macro = table.query(
        "dataset == 'tox21_mini' and model == 'mumo' and task == 'macro' and metric == 'roc_auc'"
    )
    assert scores.loc["tox21_mini", "mumo"] == f"{macro['mean'].item():.3f} ± {macro['std'].item():.3f} (2)"
    assert len(report.comparisons_table(results)) == len(pd.read_csv(results / "comparisons.csv"))
    training = report.training_table(results)
    assert len(training) == 2 * 3 * 2  # mumo and mumo_seq_only, three datasets, two seeds
    assert set(training["stopped early"]) <= {True, False}
    robustness = report.robustness_table(results).set_index("model")
    assert (robustness.loc["mumo_seq_only", "max_spread"] == "0").all()
    assert set(report.pretraining_table(results).columns) == {"step", "mumo", "mumo_seq_only"}
    # a filtered run's files carry its tag: read under that name, they give the same table
    for stem in ("table", "comparisons"):
        shutil.copy(results / f"{stem}.csv", tmp_path / f"{stem}.datasets-x.csv")
    assert report.test_table(tmp_path, "datasets-x").equals(report.test_table(results))


def test_a_second_run_does_nothing(finished_run):
    tmp_path, config = finished_run
    assert "Nothing to be done" in snakemake(tmp_path, config, "-n").stdout


def test_deleting_the_table_rebuilds_only_the_table(finished_run):
    tmp_path, config = finished_run
    table = tmp_path / "results" / "table.csv"
    before = table.read_text()
    table.unlink()
    dry = snakemake(tmp_path, config, str(table), "-n").stdout
    jobs = dry[dry.index("Job stats:") :].split("\n")
    assert any(line.startswith("aggregate") for line in jobs)
    assert _total(dry) == 1
    snakemake(tmp_path, config, str(table))
    assert table.read_text() == before


@pytest.fixture
def run_copy(finished_run, tmp_path) -> tuple[Path, Path]:
    """A copy of the finished run's results, for tests that interrupt or redo part of it."""
    shutil.copytree(finished_run[0] / "results", tmp_path / "results")
    return tmp_path, tiny_config(tmp_path)


def test_a_seed_trained_after_another_in_one_job_equals_the_seed_trained_alone(run_copy):
    """Seed 1 of a group ran after seed 0 in the same process; trained in a job of its own (a config of
    seed 1 alone), its files are byte-identical."""
    tmp_path, config = run_copy
    group = tmp_path / "results/runs/mumo/bbbp_mini/balanced_scaffold"
    files = ("predictions.csv", "metrics.json", "summary.json", "training_log.csv")
    before = {name: (group / "seed1" / name).read_bytes() for name in files}
    shutil.rmtree(group / "seed1")
    snakemake(tmp_path, tiny_config(tmp_path, seeds=[1]), str(group / "seeds-1.json"))
    after = {name: (group / "seed1" / name).read_bytes() for name in files}
    assert after["predictions.csv"] == before["predictions.csv"]
    assert after["metrics.json"] == before["metrics.json"]
    curve = ["step", "epoch", "loss", "lr", "valid_loss"]  # the log's other columns are timings
    logs = [pd.read_csv(io.BytesIO(files["training_log.csv"]))[curve] for files in (before, after)]
    pd.testing.assert_frame_equal(*logs, check_exact=True)
    assert json.loads(after["summary.json"])["steps"] == json.loads(before["summary.json"])["steps"]


def test_a_killed_training_job_keeps_its_finished_seeds(run_copy):
    """Killed while training seed 1, the job's rerun keeps seed 0 (not retrained) and trains seed 1 alone,
    to the same bytes as the uninterrupted run."""
    tmp_path, config = run_copy
    group = tmp_path / "results/runs/mumo_seq_only/esol_mini/balanced_scaffold"
    record = group / "seeds-0+1.json"
    uninterrupted = (group / "seed1" / "predictions.csv").read_bytes()
    shutil.rmtree(group)
    command = [
        *SNAKEMAKE,
        "--directory",
        str(tmp_path),
        "--configfile",
        str(config),
        "--cores",
        "2",
        str(record),
    ]
    job = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + 600
    while not (group / "seed0" / "done.json").exists():
        assert job.poll() is None and time.monotonic() < deadline, "the job ended before finishing seed 0"
        time.sleep(0.1)
    os.killpg(job.pid, signal.SIGKILL)  # snakemake and its job, at once
    job.wait()
    assert not record.exists() and not (group / "seed1" / "done.json").exists()
    seed0 = {p: p.stat().st_mtime_ns for p in (group / "seed0").rglob("*") if p.is_file()}
    snakemake(tmp_path, config, "--unlock")
    snakemake(tmp_path, config, str(record))
    assert {p: p.stat().st_mtime_ns for p in (group / "seed0").rglob("*") if p.is_file()} == seed0
    assert (group / "seed1" / "predictions.csv").read_bytes() == uninterrupted
    assert json.loads(record.read_text())["seeds"] == [0, 1]
    log = tmp_path / "results/logs/finetune/mumo_seq_only/esol_mini/balanced_scaffold/seeds-0+1.log"
    assert "seed 0: finished earlier from the same inputs and settings, kept" in log.read_text()


def test_one_figure_rebuilds_alone(finished_run):
    tmp_path, config = finished_run
    figure = tmp_path / "results" / "figures" / "comparison.pdf"
    dry = snakemake(tmp_path, config, str(figure), "--forcerun", "figures", "-n").stdout
    assert _total(dry) == 1


def test_paper_config_dry_run_lists_every_task_split_and_seed(tmp_path):
    done = snakemake(tmp_path, REPO / "config" / "paper.yaml", "-n", "--quiet", "rules")
    jobs = _job_counts(done.stdout)
    # MoleculeNet: authors, random and balanced_scaffold × seeds 0-2; TDC: tdc (and authors, where the
    # authors' files hold the task: all but half-life and the two clearances) × seeds 1-5
    runs = 9 * 3 * 3 + 19 * 2 * 5 + 3 * 5
    assert jobs["split"] == runs
    groups = 9 * 3 + 19 * 2 + 3  # one training job per (model, dataset, split) runs its seeds
    assert jobs["train_ecfp_rf"] == jobs["train_chemprop"] == groups
    assert jobs["finetune"] == groups * 7  # mumo_paper, mumo_fixed and the five ablations
    assert "evaluate" not in jobs  # each training job scores its own seeds
    assert (
        jobs["total"] < 1300
    )  # 1,220 in December 2026 (1,152 before Chemprop); 5,756 with a job per seed and an evaluate job per run
    assert jobs["fetch_authors"] == jobs["standardise_authors"] == 9 + 19
    assert jobs["ecfp"] == 31 + 28  # one fingerprint file per table
    # mumo_paper starts from the authors' checkpoint (mumo.pretrained): imported once, never pretrained here
    assert jobs["import_checkpoint"] == 1
    assert jobs["pretrain"] == 5  # mumo_fixed and the ablations except mumo_no_pretrain
    # the test folds under 4 other conformer seeds and 1 conformer instead of 10; one job predicts them all
    assert jobs["robustness_structure"] == 5 and jobs["conformer_robustness"] == 1


def test_paper_authors_rung_needs_no_pretraining(tmp_path):
    """Rung (a): a finetune of mumo_paper on the authors' split runs after the import alone."""
    target = "results/paper/runs/mumo_paper/tdc_herg/authors/seeds-1+2+3+4+5.json"
    jobs = _job_counts(
        snakemake(tmp_path, REPO / "config" / "paper.yaml", target, "-n", "--quiet", "rules").stdout
    )
    assert jobs["import_checkpoint"] == jobs["finetune"] == 1
    assert not {"pretrain", "vocab", "pretrain_corpus"} & set(jobs)  # it reads its own table's shards alone


def test_a_baseline_only_run_computes_no_structures(tmp_path):
    config = tiny_config(tmp_path, models=["ecfp_rf"])
    jobs = _job_counts(snakemake(tmp_path, config, "-n", "--quiet", "rules").stdout)
    assert jobs["train_ecfp_rf"] == 3 and not {
        "structure_shard",
        "structure_report",
        "pretrain_corpus",
        "robustness_structure",
        "conformer_robustness",
    } & set(jobs)


def test_the_chembl_corpus_is_fetched_by_a_download_job(tmp_path):
    base = yaml.safe_load((REPO / ".test" / "config" / "config.yaml").read_text())["mumo"]
    mumo = base | {"corpus": base["corpus"] | {"dataset": "chembl"}}
    config = tiny_config(tmp_path, mumo=mumo, download={"offline_only": False})
    dry = snakemake(tmp_path, config, "-n", "--until", "download").stdout
    assert "_chemreps.txt.gz" in dry
    assert _job_counts(
        snakemake(tmp_path, config, "-n", "--quiet", "rules", "--until", "download").stdout
    ) == {
        "download": 1,
        "total": 1,
    }


def test_a_filtered_run_plans_no_pretraining_and_overwrites_nothing(finished_run):
    """After the full run, `only_datasets=[bbbp_mini]` runs only its own report jobs, into files of its own."""
    tmp_path, config = finished_run
    results = tmp_path / "results"
    before = {p: p.stat().st_mtime_ns for p in results.rglob("*") if p.is_file()}
    dry = snakemake(
        tmp_path, config, "-n", "--quiet", "rules", "--config", "only_datasets=[bbbp_mini]"
    ).stdout
    jobs = _job_counts(dry)
    reports = {"aggregate", "compare", "figures", "comparisons_figure", "learning_curves", "data_report"}
    reports |= {"structure_report", "all", "total"}
    reports |= {"robustness_structure", "conformer_robustness", "robustness_figure"}  # its own test folds
    assert set(jobs) == reports  # no pretraining, vocabulary, table structure or training job
    snakemake(tmp_path, config, "--config", "only_datasets=[bbbp_mini]")
    assert {p: p.stat().st_mtime_ns for p in before} == before  # nothing of the full run rewritten
    # the filtered run's conformer sets come from the full run's cache: nothing computed again
    report = pd.read_csv(results / "structure" / "robustness" / "seed43-n1.datasets-bbbp_mini.report.csv")
    assert report["cached"].all()
    table = pd.read_csv(results / "table.datasets-bbbp_mini.csv")
    assert set(table["dataset"]) == {"bbbp_mini"}
    assert (results / "figures" / "datasets-bbbp_mini" / "comparison.png").exists()
    assert set(pd.read_csv(results / "comparisons.datasets-bbbp_mini.csv")["dataset"]) == {"bbbp_mini"}
    assert (results / "figures" / "datasets-bbbp_mini" / "paired.png").exists()
    assert "Nothing to be done" in snakemake(tmp_path, config, "-n").stdout


def test_the_comparisons_read_the_runs_the_table_reads_and_a_filter_names_them(tmp_path):
    # the old name `tasks` still filters, under the new output names
    dry = snakemake(tmp_path, tiny_config(tmp_path), "-n", "--config", "tasks=[bbbp_mini]").stdout
    aggregate, compare = _job_fields(dry, "aggregate"), _job_fields(dry, "compare")
    assert (
        compare["input"] == aggregate["input"] and len(aggregate["input"].split(", ")) == 4
    )  # one per model
    assert aggregate["output"].endswith("results/table.datasets-bbbp_mini.csv")
    assert compare["output"].endswith("results/comparisons.datasets-bbbp_mini.csv")
    assert _job_fields(dry, "comparisons_figure")["input"] == compare["output"]


def _job_fields(dry_run_output: str, rule: str) -> dict[str, str]:
    """The fields (input, output, log, ...) of the one job of `rule` in a dry run's output."""
    start = dry_run_output.index(f"rule {rule}:\n")
    block = dry_run_output[start:].split("\n\n")[0].splitlines()[1:]
    return dict(line.strip().split(": ", 1) for line in block if ": " in line)


def _job_counts(dry_run_output: str) -> dict[str, int]:
    lines = dry_run_output[dry_run_output.index("Job stats:") :].splitlines()
    rows = [line.split() for line in lines]
    return {row[0]: int(row[1]) for row in rows if len(row) == 2 and row[1].isdigit()}


def _total(dry_run_output: str) -> int:
    for line in dry_run_output.splitlines():
        if line.startswith("total"):
            return int(line.split()[-1])
    raise AssertionError("no job stats in dry-run output")


def test_html_report(finished_run):
    tmp_path, config = finished_run
    snakemake(tmp_path, config, "--report", str(tmp_path / "report.zip"))
    assert (tmp_path / "report.zip").stat().st_size > 10_000


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"sedes": [0]}, "Additional properties are not allowed ('sedes' was unexpected)"),
        ({"splits": ["stratified"]}, "'stratified' is not one of"),
        ({"datasets": {"bbbq": {}}}, "unknown dataset 'bbbq'"),
        ({"models": ["nope"]}, "unknown model 'nope'"),
        ({"seeds": [0, 0]}, "[0, 0] has non-unique elements"),
        ({"split_fractions": [1, 0, 0]}, "split_fractions: the test fraction must be > 0"),
        ({"mumo": {"preset": "tiny", "finetune": {"mask_prob": 2.0}}}, "setting mask_prob must be in (0, 1]"),
        ({"chemprop": {"depth": 0}}, "0 is less than the minimum of 1"),
        (
            {"models": ["chemprop"], "chemprop": {"epochs": 2}},
            "chemprop: setting warmup_epochs (2) must be below epochs (2)",
        ),
    ],
)
def test_bad_config_fails_before_running_with_the_key_named(tmp_path, overrides, message):
    done = snakemake(tmp_path, tiny_config(tmp_path, **overrides), "-n", check=False)
    assert done.returncode != 0
    assert message in done.stdout + done.stderr


def test_chemprop_trains_every_seed_of_a_multi_task_dataset_into_the_table(tmp_path):
    """The Chemprop rule end to end on Tox21's cut (4 tasks, missing labels): one job for both seeds, its
    rows in the table and the figures beside the mean baseline's."""
    tox21 = yaml.safe_load((REPO / ".test/config/config.yaml").read_text())["datasets"]["tox21_mini"]
    datasets = {"tox21_mini": {**tox21, "path": str(REPO / tox21["path"])}}
    chemprop = {"epochs": 3, "warmup_epochs": 1, "message_hidden_dim": 32, "ffn_hidden_dim": 32}
    config = tiny_config(tmp_path, datasets=datasets, models=["mean", "chemprop"], chemprop=chemprop)
    jobs = _job_counts(snakemake(tmp_path, config, "-n", "--quiet", "rules").stdout)
    assert jobs["train_chemprop"] == 1 and not {"structure_shard", "pretrain", "ecfp"} & set(jobs)
    snakemake(tmp_path, config)
    results = tmp_path / "results"
    table = pd.read_csv(results / "table.csv")
    chemprop_rows = table[table["model"] == "chemprop"]
    assert set(chemprop_rows["task"]) == {"NR-AR", "NR-AhR", "SR-ARE", "SR-p53", "macro"}
    assert chemprop_rows["n_seeds"].max() == 2
    for seed in (0, 1):
        run = results / f"runs/chemprop/tox21_mini/balanced_scaffold/seed{seed}"
        assert {"predictions.csv", "metrics.json", "done.json"} <= {p.name for p in run.iterdir()}
    log = (results / "logs/train_chemprop/tox21_mini/balanced_scaffold/seeds-0+1.log").read_text()
    assert "2 seed(s) trained" in log and "best validation loss" in log
    assert not list(tmp_path.glob("lightning_logs")) and not list(tmp_path.glob("*.ckpt"))
    assert (results / "figures" / "comparison.png").stat().st_size > 10_000


def test_authors_split_end_to_end_from_a_hub_mirror(tmp_path):
    """bbbp and esol on the authors' files (tests/data/hub): ECFP+RF, a tiny MuMo that reads the SMILES as
    given, and mumo_paper started from an authors'-format checkpoint (`mumo.pretrained`, the reference fixture)
    without a pretraining job. Their folds exactly, the bad row rejected and counted, the hub revision in the
    data report."""
    checkpoint = REPO / "tests" / "fixtures" / "reference_checkpoint" / "pretrain"
    config = tiny_config(
        tmp_path,
        datasets={"bbbp": {}, "esol": {}},
        splits=["authors"],
        seeds=[0],
        models=["ecfp_rf", "mumo", "mumo_paper"],
        download={"hub_mirror": str(REPO / "tests" / "data" / "hub")},
    )
    settings = yaml.safe_load(config.read_text())
    settings["mumo"]["finetune"]["model"] = {"tokens_from_raw_smiles": True}
    settings["mumo"]["pretrained"] = str(checkpoint)
    config.write_text(yaml.safe_dump(settings))
    snakemake(tmp_path, config)
    results = tmp_path / "results"

    table = pd.read_csv(results / "table.csv")
    assert set(table["split"]) == {"authors"}
    assert set(zip(table["dataset"], table["model"], strict=True)) == {
        (d, m) for d in ("bbbp", "esol") for m in ("ecfp_rf", "mumo", "mumo_paper")
    }
    assert not (results / "pretrain" / "mumo_paper").exists() and (results / "pretrain" / "mumo").exists()
    record = json.loads((results / "pretrain/imported/model/import.json").read_text())
    assert record["source"] == str(checkpoint) and record["never_used"]
    paper = pd.read_csv(results / "runs/mumo_paper/bbbp/authors/seed0/predictions.csv")
    assert paper["y_pred"].notna().all()
    tdc_like = table[(table["dataset"] == "bbbp") & (table["metric"] == "roc_auc")]
    assert tdc_like["published_mumo"].notna().all()  # the authors' split is compared with MuMo's own numbers
    sizes = table.drop_duplicates("dataset").set_index("dataset")[["n_train", "n_valid", "n_test"]]
    assert sizes.loc["bbbp"].tolist() == [37, 6, 6]  # their 7 test rows less the unparseable one
    assert sizes.loc["esol"].tolist() == [30, 5, 5]

    report = pd.read_csv(results / "data_report.csv").set_index("dataset")
    assert report.loc["bbbp", ["source", "hub_config", "hub_revision"]].tolist() == [
        "authors",
        "bbbp",
        "mirror",
    ]
    assert report.loc["bbbp", ["raw", "kept", "rejected", "duplicates kept"]].tolist() == [50, 49, 1, 1]
    assert report.loc["esol", "hub_config"] == "delaney"

    standardised = pd.read_csv(results / "data/standardised/bbbp.authors.csv", keep_default_na=False)
    theirs = pd.read_parquet(REPO / "tests/data/hub/bbbp/train-00000-of-00001.parquet")
    train = standardised[standardised["authors_set"] == "train"]
    assert train["smiles"].tolist() == theirs["smiles"].tolist()  # strings as given, duplicate kept
    assert train["p_np"].tolist() == theirs["p_np"].tolist()

    store = StructureStore(results / "structure" / "datasets" / "bbbp.authors.npz")
    salt = theirs["smiles"].iloc[0]
    assert "." in salt and store[salt]["smiles"] == salt  # a record built from the string as given
    predictions = pd.read_csv(results / "runs/mumo/bbbp/authors/seed0/predictions.csv")
    assert set(predictions["canonical_smiles"]) <= set(standardised["canonical_smiles"])
    assert predictions["y_pred"].notna().all()
