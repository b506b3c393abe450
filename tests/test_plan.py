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
    assert len(plan.runs()) == 6 * 3
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
