import pytest

from mumo.data.registry import (
    CLASSIFICATION,
    DEFAULT_METRICS,
    REGISTRY,
    REGRESSION,
    format_registry,
    get_dataset,
    metrics_for,
)
from mumo.data.sources import custom_spec, load_raw, resolve
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


def test_every_dataset_is_scored_with_its_task_types_default_metrics():
    """One table of metrics per task type; a benchmark only chooses which one heads the list."""
    for spec in REGISTRY.values():
        if spec.tasks:
            assert sorted(spec.metrics) == sorted(DEFAULT_METRICS[spec.task_type]), spec.name
    assert REGISTRY["esol"].metrics == DEFAULT_METRICS[REGRESSION] == metrics_for(REGRESSION)
    assert metrics_for(REGRESSION, "spearman") == ("spearman", "rmse", "mae", "r2", "pearson")
    mine = {"path": "mine.csv", "label_columns": ["y"]}
    for task_type in (CLASSIFICATION, REGRESSION):
        spec = custom_spec("mine", {**mine, "task_type": task_type})
        assert spec.metrics == DEFAULT_METRICS[task_type]
    assert custom_spec("mine", {**mine, "task_type": REGRESSION, "metrics": ["mae"]}).metrics == ("mae",)


def test_tdc_names_come_from_the_one_task_list():
    """TDC's own task names serve both the published numbers and the authors' hub configurations."""
    tdc = {name: spec for name, spec in REGISTRY.items() if spec.benchmark == "TDC"}
    assert tdc["tdc_herg"].tdc_name == "hERG" and tdc["tdc_herg"].tdc_key == "herg"
    for name, spec in tdc.items():
        assert name == f"tdc_{spec.tdc_key}" and spec.tdc_name.lower() == spec.tdc_key, name
        if spec.hub is not None:
            assert (spec.hub.config, spec.hub.labels) == (spec.tdc_name, (("Y", "Y"),)), name


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


def test_the_authors_hub_configurations_and_label_columns():
    hub = {name: spec.hub for name, spec in REGISTRY.items() if spec.hub is not None}
    assert len(hub) == 9 + 19  # every MoleculeNet task; TDC but half-life and the clearances
    assert not {"tdc_half_life_obach", "tdc_clearance_microsome_az", "aqsoldb", "moses"} & hub.keys()
    assert (hub["esol"].config, hub["esol"].column_of("logS")) == ("delaney", "logSolubility")
    assert (hub["hiv"].config, hub["hiv"].column_of("HIV_active")) == ("hiv", "label")
    assert (hub["lipophilicity"].config, hub["lipophilicity"].column_of("exp")) == ("lipo", "lipo")
    assert hub["tdc_lipophilicity_astrazeneca"].config == "Lipophilicity_AstraZeneca"
    assert hub["tox21"].labels[0] == ("NR-AR", "NR-AR") and len(hub["sider"].labels) == 27
    for name, config in hub.items():  # every task of each dataset has its column
        assert [ours for _, ours in config.labels] == list(REGISTRY[name].tasks), name
    rows = {line.split()[0]: line.split() for line in format_registry().splitlines()}
    assert rows["name"][5:7] == ["authors", "split"]
    assert rows["esol"][5] == "delaney" and rows["tdc_half_life_obach"][5] == "-"


@pytest.mark.parametrize("name", ["bbbp", "bace", "esol", "freesolv", "lipophilicity", "aqsoldb"])
def test_molecule_counts_match_the_offline_copies(name, tmp_path):
    """`rows` sizes the estimates of `mumo cost`; where a full offline copy is installed, it must agree."""
    spec = REGISTRY[name]
    if spec.offline_source_for(spec.tasks) is None:
        pytest.skip(f"{spec.offline.package} not installed")
    assert len(load_raw(resolve(name, offline_only=True), tmp_path)) == spec.rows


def test_every_dataset_has_a_molecule_count():
    assert all(spec.rows and spec.rows > 0 for spec in REGISTRY.values())
    tdc = [spec.rows for spec in REGISTRY.values() if spec.benchmark == "TDC"]
    # TDC's ADMET group sizes: Caco-2 906 ... CYP2D6 (Veith) 13,130 the largest, DILI 475 the smallest
    assert len(tdc) == 22 and sum(tdc) == 80_519
    assert (
        (REGISTRY["tdc_cyp2d6_veith"].rows, REGISTRY["tdc_dili"].rows)
        == (max(tdc), min(tdc))
        == (13_130, 475)
    )
