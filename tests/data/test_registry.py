import pytest

from mumo.data.registry import REGISTRY, format_registry, get_dataset
from mumo.eval.metrics import METRICS

MOLECULENET = {"bbbp", "bace", "clintox", "tox21", "sider", "hiv", "esol", "freesolv", "lipophilicity"}


def test_registry_holds_every_paper_dataset():
    assert MOLECULENET <= set(REGISTRY)
    tdc = [s for s in REGISTRY.values() if s.benchmark == "TDC"]
    assert len(tdc) == 22
    assert {"aqsoldb", "moses", "chembl"} <= set(REGISTRY)


def test_tdc_metrics_follow_the_leaderboard():
    headline = {s.tdc_key: s.headline_metric for s in REGISTRY.values() if s.benchmark == "TDC"}
    assert headline["vdss_lombardo"] == "spearman"
    assert headline["cyp3a4_substrate_carbonmangels"] == "roc_auc"
    assert headline["cyp2d6_substrate_carbonmangels"] == "pr_auc"
    assert headline["ld50_zhu"] == "mae"
    assert sum(m == "pr_auc" for m in headline.values()) == 5
    assert sum(m == "spearman" for m in headline.values()) == 4


def test_every_entry_is_consistent():
    for spec in REGISTRY.values():
        assert all(m in METRICS for m in spec.metrics), spec.name
        assert spec.upstream or spec.offline, spec.name
        if spec.upstream and spec.upstream.label_columns and spec.upstream.kind == "csv":
            assert len(spec.upstream.label_columns) == len(spec.tasks), spec.name
        if spec.offline and spec.offline.tasks:
            assert set(spec.offline.tasks) <= set(spec.tasks), spec.name


def test_unknown_dataset_lists_valid_names():
    with pytest.raises(KeyError, match="registered datasets: .*bbbp"):
        get_dataset("bbbq")


def test_offline_sources_are_installed_and_listed():
    # The project's install script installs the data packages; these must be found, not skipped.
    for name in ("bbbp", "bace", "clintox", "esol", "freesolv", "lipophilicity", "hiv", "aqsoldb", "moses"):
        assert REGISTRY[name].offline.locate() is not None, name
    listing = format_registry(only_offline=True)
    assert "clintox" in listing and "CT_TOX only" in listing
    assert "tox21" not in listing
    assert "download only" in format_registry()
