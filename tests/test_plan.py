import pytest
import yaml
from helpers import REPO

from mumo.plan import ConfigError, Plan


def _config(**overrides):
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config.update(overrides)
    return config


def test_default_plan():
    plan = Plan.from_config(_config())
    assert set(plan.datasets) == {"bbbp", "bace", "clintox", "esol", "freesolv", "lipophilicity"}
    assert all(d.resolved.source == "offline" for d in plan.datasets.values())
    assert len(plan.runs()) == 6 * 3 * 2  # ecfp_rf and mumo
    assert plan.run_metrics()[0] == "results/runs/ecfp_rf/bbbp/balanced_scaffold/seed0/metrics.json"


def test_tasks_restricts_the_run():
    plan = Plan.from_config(_config(tasks=["bbbp"]))
    assert list(plan.datasets) == ["bbbp"]
    with pytest.raises(ConfigError, match=r"tasks: \['bbbq'\] not among the configured datasets"):
        Plan.from_config(_config(tasks=["bbbq"]))


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
        ({"models": ["mumo_xl"]}, r"unknown model 'mumo_xl'; valid models: ecfp_rf"),
    ],
)
def test_config_errors_name_the_key(overrides, message):
    with pytest.raises(ConfigError, match=message):
        Plan.from_config(_config(**overrides))


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
    assert plan.corpus_csv in plan.structure_inputs()


def test_unknown_training_setting_fails_at_start_up():
    config = _config(models=["mumo"], mumo={"preset": "small", "pretrain": {"epohcs": 1}, "finetune": {}})
    with pytest.raises(ConfigError, match=r"mumo.pretrain: unknown training setting\(s\) \['epohcs'\]"):
        Plan.from_config(config)
