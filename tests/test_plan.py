import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml
from helpers import REPO

from mumo.catalog import ABLATIONS
from mumo.plan import (
    LONGEST_CHAIN_PRIORITY,
    PRETRAINING_CHAIN_PRIORITY,
    ConfigError,
    Plan,
    Schedule,
    StorePart,
    type_command_line_values,
)

#: every MoleculeNet dataset that ships offline, whatever the default run keeps
OFFLINE_DATASETS = {"bbbp": {}, "bace": {}, "clintox": {"tasks": ["CT_TOX"]}, "esol": {}, "freesolv": {}}


def _config(**overrides):
    """The default config's settings on the five offline datasets, with `overrides`."""
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config.update({"datasets": OFFLINE_DATASETS, **overrides})
    return config


def test_default_plan():
    plan = Plan.from_config(yaml.safe_load((REPO / "config" / "config.yaml").read_text()))
    assert set(plan.datasets) == {"bace", "esol", "freesolv"}
    assert all(d.resolved.source == "offline" for d in plan.datasets.values())
    assert len(plan.runs()) == 3 * 3 * 3  # mean, ecfp_rf and mumo
    assert plan.run_metrics()[0] == "results/runs/mean/bace/balanced_scaffold/seed0/metrics.json"


def test_one_training_job_per_model_dataset_and_split_runs_its_seeds():
    models = ["mean", "ecfp_rf", "mumo", "mumo_seq_only"]
    plan = Plan.from_config(_config(datasets={"bbbp": {}, "esol": {"seeds": [4, 5]}}, models=models))
    groups = plan.groups()
    assert len(groups) == 2 * 4 and len(plan.runs()) == (3 + 2) * 4
    assert ("mumo", "esol", "balanced_scaffold", (4, 5)) in groups
    assert plan.group_records()[0] == "results/runs/mean/bbbp/balanced_scaffold/seeds-0+1+2.json"
    assert plan.split_files("esol", "balanced_scaffold", "4+5") == [
        "results/data/splits/esol/balanced_scaffold/seed4.json",
        "results/data/splits/esol/balanced_scaffold/seed5.json",
    ]
    (second,) = plan.seed_runs("mumo", "esol", "balanced_scaffold", "5", "results/logs/finetune/x")
    assert second == {
        "seed": 5,
        "split_json": "results/data/splits/esol/balanced_scaffold/seed5.json",
        "run_dir": "results/runs/mumo/esol/balanced_scaffold/seed5",
        "log": "results/logs/finetune/x/seed5.log",
    }
    # the learning curves wait for the MuMo groups, and draw their seeds' logs
    assert len(plan.curve_inputs("finetune")) == 2 * 2
    assert len(plan.curve_files("finetune")) == (3 + 2) * 2


def test_a_run_filtered_to_fewer_seeds_has_records_of_its_own():
    full = Plan.from_config(_config(only_datasets=["bbbp"]))
    fewer = Plan.from_config(_config(only_datasets=["bbbp"], seeds=[0]), overrides=["seeds"])
    assert set(full.group_records()).isdisjoint(fewer.group_records())
    assert {run[:3] for run in fewer.runs()} == {group[:3] for group in full.groups()}


def test_only_datasets_restricts_the_run():
    plan = Plan.from_config(_config(only_datasets=["bbbp"]))
    assert list(plan.datasets) == ["bbbp"]
    with pytest.raises(ConfigError, match=r"only_datasets: \['bbbq'\] not among the configured datasets"):
        Plan.from_config(_config(only_datasets=["bbbq"]))


def test_the_old_name_tasks_is_read_as_only_datasets_with_a_deprecation_warning(caplog):
    new = Plan.from_config(_config(only_datasets=["bbbp"]))
    old = Plan.from_config({**_config(), "tasks": ["bbbp"]})
    assert "config key `tasks` is deprecated: it is now `only_datasets`" in caplog.text
    assert list(old.datasets) == ["bbbp"] and (old.tag, old.table) == (new.tag, new.table)
    assert old.declared.tables() == new.declared.tables()
    with pytest.raises(ConfigError, match=r"tasks \['bbbp'\] and only_datasets \['esol'\] disagree"):
        Plan.from_config(_config(only_datasets=["esol"], tasks=["bbbp"]))


def test_tdc_datasets_use_the_benchmark_split_and_five_seeds():
    plan = Plan.from_config(_config(datasets={"tdc_herg": {}}, download={"offline_only": False}))
    herg = plan.datasets["tdc_herg"]
    assert herg.splits == ("tdc",) and herg.seeds == (1, 2, 3, 4, 5)
    assert plan.download_for("tdc_herg") == ["results/data/downloads/admet_group.zip"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"datasets": {"bbbq": {}}}, r"datasets.bbbq: unknown dataset 'bbbq'; registered datasets:"),
        ({"datasets": {"tox21": {}}}, r"datasets.tox21: .*not available offline"),
        ({"datasets": {"bbbp": {"splits": ["stratified"]}}}, r"unknown split 'stratified'"),
        ({"models": ["mumo_xl"]}, r"unknown model 'mumo_xl'; valid models: mean, ecfp_rf"),
        ({"seeds": [0, 0]}, r"seeds: seed\(s\) \[0\] listed twice; each seed is one independent run"),
        ({"datasets": {"bbbp": {"seeds": [1, 2, 1]}}}, r"datasets.bbbp.seeds: seed\(s\) \[1\] listed twice"),
        ({"split_fractions": [0.8, 0.1, 0.2]}, r"split_fractions: .* must sum to 1, got \[0.8, 0.1, 0.2\]"),
        ({"split_fractions": [1, 0, 0]}, r"split_fractions: the test fraction must be > 0"),
        ({"split_fractions": [0, 0.5, 0.5]}, r"split_fractions: the train fraction must be > 0"),
        ({"split_fractions": [0.9, -0.1, 0.2]}, r"split_fractions: .*>= 0"),
        ({"split_fractions": [0.8, 0.1]}, r"split_fractions: three numbers \(train, valid, test\)"),
        ({"split_fractions": ["0.8", 0.1, 0.1]}, r"split_fractions: three numbers"),
        ({"results_dir": ""}, r"results_dir: empty; name the folder"),  # it wrote into the working directory
        ({"results_dir": " "}, r"results_dir: empty"),
        (
            {"ecfp_rf": {"n_bits": 1024, "max_features": 4096}},
            r"ecfp_rf.max_features: 4096 features per split, more than the fingerprint's n_bits 1024",
        ),
        (
            {
                "datasets": {
                    "mine": {
                        "path": "x.csv",
                        "label_columns": ["y"],
                        "task_type": "regression",
                        "metrics": ["rmse", "rsme"],
                    }
                }
            },
            r"datasets.mine.metrics: unknown metric 'rsme'; valid metrics: roc_auc",
        ),
        ({"mumo": {"preset": "tiny", "pretrain": {}, "finetune": {"lr": -1}}}, r"mumo.finetune: setting lr"),
        ({"datasets": {"bbbp": {"metrics": ["f1"]}}}, r"datasets.bbbp: \['metrics'\] only apply to custom"),
        (
            {"mumo": {"preset": "tiny", "pretrain": {"betas": [0.9]}, "finetune": {}}},
            r"mumo.pretrain: setting betas must be two numbers",
        ),
        (
            {"models": ["chemprop"], "chemprop": {"ffn_num_layers": 0}},
            r"chemprop: setting ffn_num_layers must be an integer >= 1, got 0",
        ),
        ({"models": ["chemprop"], "chemprop": {"lr": 1e-3}}, r"chemprop: unknown setting\(s\) \['lr'\]"),
        (
            {"models": ["chemprop"], "chemprop": {"epochs": 1}},
            r"chemprop: setting warmup_epochs \(2\) must be below epochs \(1\)",
        ),
    ],
)
def test_config_errors_name_the_key(overrides, message):
    with pytest.raises(ConfigError, match=message):
        Plan.from_config(_config(**overrides))


def test_chemprop_settings_are_checked_only_when_chemprop_is_asked_for():
    Plan.from_config(_config(chemprop={"epochs": 1}))  # the default models: no Chemprop job to refuse
    plan = Plan.from_config(_config(models=["chemprop"]))
    assert plan.group_records()[0] == "results/runs/chemprop/bbbp/balanced_scaffold/seeds-0+1+2.json"


def test_mumo_models_get_their_preset_and_ablation_overrides():
    config = _config(
        models=["ecfp_rf", "mumo", "mumo_seq_only", "mumo_no_pretrain", "mumo_paper"],
        mumo={
            "preset": "small",
            "threads": 1,
            "corpus": {"dataset": "moses"},
            "pretrain": {"epochs": 1},
            "finetune": {"lr": 1e-4},
        },
    )
    plan = Plan.from_config(config)
    assert plan.pretrained_models() == ["mumo", "mumo_seq_only", "mumo_paper"]
    assert plan.pretrained_weights("mumo_no_pretrain") == []
    seq = plan.model_settings("mumo_seq_only", "finetune")
    assert seq == {"lr": 1e-4, "preset": "small", "model": {"use_graph": False}}
    assert plan.model_settings("mumo_paper", "pretrain")["preset"] == "paper"
    assert (
        plan.structure_source("corpus/shard3") == plan.corpus_csv
        and StorePart(shard=3) in plan.structure_parts()
    )
    assert plan.structure_sharding("corpus/shard3") == (3, 4) and len(plan.corpus_shards()) == 4


def test_unknown_training_setting_fails_at_start_up():
    config = _config(models=["mumo"], mumo={"preset": "small", "pretrain": {"epohcs": 1}, "finetune": {}})
    with pytest.raises(ConfigError, match=r"mumo.pretrain: unknown training setting\(s\) \['epohcs'\]"):
        Plan.from_config(config)


def test_ablations_switch_adds_every_ablation_and_the_target_lists_them_anyway():
    plan = Plan.from_config(_config(only_datasets=["bbbp"], ablations=True))
    assert plan.models == (
        "mean",
        "ecfp_rf",
        "mumo",
        "mumo_seq_only",
        *[a for a in ABLATIONS if a != "mumo_seq_only"],
    )
    without = Plan.from_config(_config(only_datasets=["bbbp"]))
    assert len(without.ablation_records()) == len(ABLATIONS)  # one group of seeds 0-2 per ablation
    assert (
        "results/runs/mumo_no_geometry/bbbp/balanced_scaffold/seeds-0+1+2.json" in without.ablation_records()
    )


def test_default_figures_include_comparison_ablations_and_learning_curves():
    names = {Path(p).name for p in Plan.from_config(_config()).figures}
    stems = ["metrics", "comparison", "paired", "ablations", "finetune_curves", "pretrain_curves"]
    stems.append("conformer_robustness")
    assert names == {f"{stem}.{ext}" for stem in stems for ext in ("png", "pdf")}
    baseline_only = {Path(p).stem for p in Plan.from_config(_config(models=["ecfp_rf"])).figures}
    assert baseline_only == {"metrics", "comparison"}  # one model: no pair to compare


def test_the_paired_comparisons_are_a_target_where_two_models_ran_and_a_filter_names_them():
    plan = Plan.from_config(_config())
    assert plan.comparisons == "results/comparisons.csv" and plan.comparisons in plan.targets()
    assert plan.tagged("comparisons", "csv") == plan.comparisons  # named like the table
    filtered = Plan.from_config(_config(models=["ecfp_rf", "mumo"]), overrides={"models"})
    assert filtered.comparisons == "results/comparisons.models-ecfp_rf+mumo.csv"
    assert filtered.comparisons.replace("comparisons", "table") == filtered.table
    single = Plan.from_config(_config(models=["ecfp_rf"]))
    assert single.comparisons not in single.targets()


def _paper_plan() -> Plan:
    return Plan.from_config(yaml.safe_load((REPO / "config" / "paper.yaml").read_text()))


def test_training_budget_says_how_mumo_was_trained():
    mumo = {
        "preset": "small",
        "corpus": {"dataset": "moses", "n_molecules": 20000},
        "pretrain": {"epochs": 4},
        "finetune": {"epochs": 30, "lr": 1e-3, "selection": "best_valid", "patience": 3},
    }
    assert Plan.from_config(_config(mumo=mumo)).training_budget() == (
        "MuMo small: finetuned ≤30 epochs, lr 0.001, early stopping on the validation loss (patience 3 "
        "evaluations); pretrained 4 epoch(s) on 20,000 moses molecules"
    )
    last = mumo | {"finetune": {"epochs": 5, "lr": 3e-4, "selection": "last"}}
    plan = Plan.from_config(_config(mumo=last, models=["mean", "mumo_no_pretrain"]))
    assert plan.training_budget() == "MuMo small: finetuned ≤5 epochs, lr 0.0003, last step kept"
    assert Plan.from_config(_config(models=["mean", "ecfp_rf"])).training_budget() is None


def test_paper_config_runs_every_task_split_and_seed():
    plan = _paper_plan()
    molnet = [d for d in plan.datasets.values() if d.spec.benchmark == "MoleculeNet"]
    tdc = [d for d in plan.datasets.values() if d.spec.benchmark == "TDC"]
    assert len(molnet) == 9 and len(tdc) == 22
    assert all(
        d.splits == ("authors", "random", "balanced_scaffold") and d.seeds == (0, 1, 2) for d in molnet
    )
    not_in_authors_files = {
        "tdc_half_life_obach",
        "tdc_clearance_microsome_az",
        "tdc_clearance_hepatocyte_az",
    }
    assert all(d.splits == ("tdc", "authors") for d in tdc if d.name not in not_in_authors_files)
    assert all(d.splits == ("tdc",) for d in tdc if d.name in not_in_authors_files)
    assert all(d.seeds == (1, 2, 3, 4, 5) for d in tdc)
    assert [d.spec.headline_metric for d in tdc].count("spearman") == 4
    assert [d.spec.headline_metric for d in tdc].count("pr_auc") == 5
    assert set(plan.models) == {"ecfp_rf", "chemprop", "mumo_paper", "mumo_fixed", *ABLATIONS}
    finetune = Counter((d, s, k) for m, d, s, k in plan.runs() if m not in ("ecfp_rf", "chemprop"))
    assert len(finetune) == 9 * 3 * 3 + 19 * 2 * 5 + 3 * 5
    assert set(finetune.values()) == {2 + len(ABLATIONS)}  # one finetune per MuMo model, each combination
    # mumo_paper starts from the authors' weights; mumo_no_pretrain has none
    assert plan.imported_source == "zihaojing/MuMo-Pretrained@55745176247a6522a0e5ba9f49b7d451b936e17a"
    assert set(plan.pretrained_models()) == {"mumo_fixed", *ABLATIONS} - {"mumo_no_pretrain"}
    assert plan.pretrained_weights("mumo_paper") == [
        "results/paper/pretrain/imported/model/model.safetensors"
    ]
    assert plan.vocab("mumo_paper") == "results/paper/pretrain/imported/model/vocab.json"
    assert plan.vocab("mumo_fixed") == "results/paper/pretrain/vocab.json"


def test_imported_weights_need_the_model_they_start():
    with pytest.raises(ConfigError, match="mumo.pretrained: the authors' weights start mumo_paper"):
        Plan.from_config(
            _config(models=["ecfp_rf", "mumo"], mumo={**_config()["mumo"], "pretrained": "x/y@1"})
        )


def test_paper_config_per_task_recipes_and_the_models_own_overrides_win():
    plan = _paper_plan()
    tox21 = plan.model_settings("mumo_seq_only", "finetune", "tox21")
    assert (tox21["lr"], tox21["batch_size"], tox21["grad_accum"], tox21["schedule"]) == (
        1e-5,
        1,
        2,
        "cosine",
    )
    assert tox21["model"] == {
        "pooler": "mixpooler",
        "attention_dropout": 0.0,
        "hidden_dropout": 0.0,
        "use_graph": False,
    }
    assert tox21["preset"] == "paper"
    herg = plan.model_settings("mumo_fixed", "finetune", "tdc_herg")
    assert (herg["epochs"], herg["batch_size"], herg["model"], herg["preset"]) == (
        5,
        4,
        {"pooler": "bipooler"},
        "fixed",
    )
    assert plan.model_settings("mumo_paper", "pretrain", "tox21")["lr"] == 1e-4  # no dataset in pretraining


def test_a_dataset_finetune_typo_fails_at_start_up():
    config = _config(datasets={"bbbp": {"finetune": {"lrr": 1e-5}}})
    with pytest.raises(ConfigError, match=r"datasets.bbbp.finetune: unknown training setting\(s\) \['lrr'\]"):
        Plan.from_config(config)


@pytest.mark.slow  # a fresh interpreter
def test_planning_the_default_run_does_not_import_torch():
    """Every `snakemake` command plans the run first; torch would add ~1.7 s to each (and to each SLURM job)."""
    code = (
        "import sys, yaml\n"
        "from mumo.plan import Plan\n"
        "plan = Plan.from_config(yaml.safe_load(open('config/config.yaml')))\n"
        "assert plan.mumo_models(), 'the default run trains MuMo, so its settings were checked'\n"
        "assert 'torch' not in sys.modules, 'planning imported torch'\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)


def test_own_data_under_a_registry_name_is_refused_unless_marked_as_custom():
    own = {"path": "my_bbbp.csv", "label_columns": ["p_np"], "task_type": "classification"}
    message = r"datasets.bbbp: 'bbbp' is a registry dataset .*published numbers.*benchmark: custom"
    with pytest.raises(ConfigError, match=message):
        Plan.from_config(_config(datasets={"bbbp": own}))
    with pytest.raises(ConfigError, match=message):
        Plan.from_config(_config(datasets={"bbbp": {**own, "benchmark": "MoleculeNet"}}))
    plan = Plan.from_config(_config(datasets={"bbbp": {**own, "benchmark": "custom"}}))
    assert (
        plan.datasets["bbbp"].resolved.source == "custom" and plan.datasets["bbbp"].spec.benchmark == "custom"
    )


def _authors_config(**overrides):
    mirror = str(REPO / "tests" / "data" / "hub")
    return _config(splits=["authors"], download={"offline_only": True, "hub_mirror": mirror}, **overrides)


def test_authors_split_reads_its_own_table_and_features():
    plan = Plan.from_config(_authors_config(datasets={"bbbp": {"splits": ["authors", "random"]}, "esol": {}}))
    assert plan.split_table("bbbp", "authors") == "results/data/standardised/bbbp.authors.csv"
    assert plan.split_table("bbbp", "random") == "results/data/standardised/bbbp.csv"
    assert plan.ecfp_features("bbbp", "authors") == "results/features/ecfp/bbbp.authors.npy"
    assert plan.tables() == {
        "bbbp.authors": "results/data/standardised/bbbp.authors.csv",
        "bbbp": "results/data/standardised/bbbp.csv",
        "esol.authors": "results/data/standardised/esol.authors.csv",
    }
    assert "results/data/standardised/esol.authors.counts.json" in plan.counts_files()
    sources = {plan.structure_source(part.name) for part in plan.structure_parts()}
    assert set(plan.tables().values()) <= sources
    assert plan.table_shards("bbbp", "authors") == ["results/structure/datasets/bbbp.authors.npz"]
    assert plan.structure_sharding("datasets/bbbp.authors") == (0, 1)


def test_authors_split_only_where_the_authors_published_files():
    with pytest.raises(
        ConfigError, match=r"datasets.tdc_half_life_obach: split 'authors' needs the authors' files"
    ):
        Plan.from_config(_authors_config(datasets={"tdc_half_life_obach": {"splits": ["authors"]}}))
    custom = {"path": "x.csv", "label_columns": ["y"], "task_type": "regression"}
    with pytest.raises(
        ConfigError, match=r"datasets.mine: split 'authors' needs the authors' files, which exist"
    ):
        Plan.from_config(_authors_config(datasets={"mine": custom}))
    with pytest.raises(ConfigError, match=r"set download.offline_only: false, or download.hub_mirror"):
        Plan.from_config(_config(splits=["authors"]))


def test_a_dataset_on_the_authors_files_alone_needs_no_source_of_its_own():
    plan = Plan.from_config(_authors_config(datasets={"tox21": {}}))  # tox21 is download-only
    assert plan.tables() == {"tox21.authors": "results/data/standardised/tox21.authors.csv"}


def test_raw_smiles_tables_follow_the_models_quirk():
    config = _authors_config(datasets={"bbbp": {}}, models=["ecfp_rf", "mumo"])
    assert Plan.from_config(config).raw_smiles_tables() == []
    paper = Plan.from_config({**config, "models": ["mumo", "mumo_paper"]})
    assert paper.raw_smiles_tables() == ["results/data/standardised/bbbp.authors.csv"]
    config["mumo"]["finetune"] = {**config["mumo"]["finetune"], "model": {"tokens_from_raw_smiles": True}}
    assert Plan.from_config(config).raw_smiles_tables() == ["results/data/standardised/bbbp.authors.csv"]


def test_a_filter_keeps_the_declared_datasets_for_pretraining_and_names_its_outputs():
    full, filtered = Plan.from_config(_config()), Plan.from_config(_config(only_datasets=["bbbp", "esol"]))
    assert filtered.declared.tables() == full.tables() and full.declared is full
    assert full.tag == "" and full.table == "results/table.csv"
    assert filtered.table == "results/table.datasets-bbbp+esol.csv"
    assert filtered.figures_dir == "results/figures/datasets-bbbp+esol"
    assert {filtered.data_report, filtered.structure_report}.isdisjoint(
        {full.data_report, full.structure_report}
    )
    # `models` filters only when given on the command line (the config file's list is the full run)
    baseline = Plan.from_config(_config(models=["ecfp_rf"]), overrides={"models"})
    assert baseline.table == "results/table.models-ecfp_rf.csv"
    assert Plan.from_config(_config(models=["ecfp_rf"])).tag == ""
    rung = Plan.from_config(
        _config(models=["mumo"], splits=["random"]), overrides={"models", "splits", "ablations"}
    )
    assert rung.tag == "models-mumo.splits-random"


def test_conformer_robustness_sets_stores_and_runs():
    models = ["mean", "ecfp_rf", "mumo", "mumo_seq_only"]
    robustness = {"conformer_seeds": 4, "num_conformers": [], "batch_size": None}
    plan = Plan.from_config(_config(only_datasets=["bbbp", "esol"], models=models, robustness=robustness))
    assert [(s.name, s.varied) for s in plan.robustness_sets()] == [
        ("seed42-n1", "reference"),
        *((f"seed{seed}-n1", "conformer_seed") for seed in (43, 44, 45, 46)),
    ]
    assert (
        plan.robustness_store("seed43-n1") == "results/structure/robustness/seed43-n1.datasets-bbbp+esol.npz"
    )
    assert plan.robustness_conformer("seed45-n1") == {
        "seed": 45, "num_conformers": 1, "max_iters": 2000, "max_embed_attempts": 80
    }  # fmt: skip
    with pytest.raises(
        ConfigError, match="no conformer set 'seed42-n1'"
    ):  # the reference has no store of its own
        plan.robustness_conformer("seed42-n1")
    # every MuMo seed, each with its table's own store as the reference; the baselines have no structure input
    runs = plan.robustness_runs()
    assert {r["model"] for r in runs} == {"mumo", "mumo_seq_only"} and len(runs) == 2 * 2 * 3
    assert runs[0]["reference_store"] == "results/structure/datasets/bbbp.npz"
    assert plan.robustness_test_folds()["results/data/standardised/esol.csv"] == [
        f"results/data/splits/esol/balanced_scaffold/seed{seed}.json" for seed in (0, 1, 2)
    ]
    assert set(plan.robustness_outputs.values()) <= set(plan.targets())
    # off: no other seed and no other number of conformers, or no MuMo model
    off = _config(robustness={"conformer_seeds": 0, "num_conformers": [1]})
    assert Plan.from_config(off).robustness_sets() == []
    assert not any("robustness" in path for path in Plan.from_config(off).targets())
    assert Plan.from_config(_config(models=["ecfp_rf"])).robustness_sets() == []


def test_paper_robustness_compares_one_conformer_with_ten_and_reads_the_smiles_as_written():
    plan = _paper_plan()
    sets = plan.robustness_sets()
    assert [s.name for s in sets if s.varied != "conformer_seed"] == ["seed42-n10", "seed42-n1"]
    assert len(plan.robustness_runs()) == len(plan.runs(plan.robustness_models()))
    # mumo_paper reads the `smiles` as given: the test rows need records keyed by those strings
    assert "results/paper/data/standardised/bbbp.csv" in plan.robustness_raw_tables()


def test_structures_only_for_mumo_and_per_table():
    assert Plan.from_config(_config(models=["ecfp_rf"])).structure_parts() == []
    assert Plan.from_config(_config(models=["ecfp_rf"])).targets()[-1] == "results/data_report.csv"
    plan = Plan.from_config(_config(only_datasets=["bbbp"]))
    names = [part.name for part in plan.structure_parts()]
    assert names == ["datasets/bbbp", *(f"corpus/shard{k}" for k in range(2))]
    assert plan.table_shards("bbbp", "balanced_scaffold") == ["results/structure/datasets/bbbp.npz"]
    assert plan.structure_shard_reports() == ["results/structure/datasets/bbbp.report.csv"]
    assert plan.structure_source("datasets/bbbp") == "results/data/standardised/bbbp.csv"


def test_the_chembl_corpus_is_a_download_job():
    config = _config(download={"offline_only": False})
    config["mumo"] = {**config["mumo"], "corpus": {**config["mumo"]["corpus"], "dataset": "chembl"}}
    plan = Plan.from_config(config)
    (download,) = plan.corpus_download()
    assert download.startswith("results/data/downloads/chembl_") and download.endswith("_chemreps.txt.gz")
    assert plan.upstream_by_filename(Path(download).name).kind == "chembl_chemreps"
    assert Plan.from_config(_config(models=["ecfp_rf"])).corpus_download() == []


@pytest.mark.parametrize(
    ("n_molecules", "n_shards", "expected"), [(3000, 4, 2), (150, 2, 1), (0, 4, 4), (9000, 4, 4)]
)
def test_a_small_corpus_gets_fewer_shards_than_n_shards(n_molecules, n_shards, expected):
    """A shard's job pays a start-up; n_molecules 0 takes the whole corpus (1.6 M MOSES molecules)."""
    config = _config()
    config["mumo"]["corpus"] = {**config["mumo"]["corpus"], "n_molecules": n_molecules}
    config["structure"] = {**config["structure"], "n_shards": n_shards}
    plan = Plan.from_config(config)
    assert plan.corpus_n_shards() == expected
    assert plan.corpus_shards()[-1] == f"results/structure/corpus/shard{expected - 1}.npz"


def test_command_line_lists_and_mappings_get_a_config_files_types():
    """`--config seeds=[1] mumo="{threads: 2, corpus: {seed: 3}}"` arrives from Snakemake as strings."""
    config = {"seeds": ["1", "2"], "mumo": {"threads": "2", "preset": "small", "corpus": {"seed": "3"}}}
    overrides = {"seeds": ["1", "2"], "mumo": {"threads": "2", "corpus": {"seed": "3"}}}
    type_command_line_values(config, overrides)
    assert config == {"seeds": [1, 2], "mumo": {"threads": 2, "preset": "small", "corpus": {"seed": 3}}}
    quoted = {"mumo": {"preset": "1"}}  # a config file's quoted "1" that --config did not touch
    type_command_line_values(quoted, {"mumo": {"threads": "2"}})
    assert quoted == {"mumo": {"preset": "1"}}


@pytest.mark.slow
def test_snakemake_accepts_a_seed_list_on_the_command_line(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--quiet", "rules", "--directory", str(tmp_path),
         "--snakefile", str(REPO / "Snakefile"), "--configfile", str(REPO / "config" / "config.yaml"),
         "--config", "seeds=[1]", "models=[mean]"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert re.search(r"train_mean\s+3\b", done.stdout), done.stdout  # one job per dataset, seed 1 only


def test_priorities_run_the_longest_chains_first_then_the_longest_jobs():
    schedule = Schedule(Plan.from_config(_config()))
    corpus, tables = schedule.structure("corpus/shard0"), schedule.structure("datasets/freesolv")
    assert corpus == PRETRAINING_CHAIN_PRIORITY > tables > schedule.finetune("mumo", "bbbp")
    assert schedule.pretrain("mumo") > schedule.pretrain("mumo_seq_only") > corpus
    # the largest table's structures beside the corpus's: its finetunes wait for both
    assert schedule.structure("datasets/bbbp") == LONGEST_CHAIN_PRIORITY > corpus
    # the other tables' after the pretraining, the larger first; the authors' table as large as its own
    assert corpus > schedule.structure("datasets/bace") > schedule.structure("datasets/esol") > tables
    assert schedule.structure("datasets/bbbp.authors") == schedule.structure("datasets/bbbp")
    # a finetune that reads the graph costs about twice a sequence-only one on the same molecules
    assert schedule.finetune("mumo", "esol") > schedule.finetune("mumo_seq_only", "bbbp")
    assert schedule.finetune("mumo_seq_only", "bbbp") > schedule.finetune("mumo", "freesolv")


@pytest.mark.parametrize(
    ("name", "part", "dataset"),
    [
        ("corpus/shard12", StorePart(shard=12), None),
        ("datasets/bbbp", StorePart(table="bbbp"), "bbbp"),
        ("datasets/bbbp.authors", StorePart(table="bbbp.authors"), "bbbp"),
    ],
)
def test_a_store_part_is_named_and_parsed_in_one_place(name, part, dataset):
    assert StorePart.parse(name) == part and part.name == name and part.dataset == dataset


@pytest.mark.parametrize(
    "name", ["corpus/shard", "corpus/shardx", "datasets/", "datasets/a/b", "tables/bbbp"]
)
def test_a_name_that_is_no_store_part_is_refused(name):
    with pytest.raises(ValueError, match="is not a structure store part"):
        StorePart.parse(name)
    with pytest.raises(ValueError, match="a store part is a table or a corpus shard"):
        StorePart()
