import dataclasses
import inspect
from pathlib import Path

import pytest
import yaml
from helpers import REPO
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from mumo.baselines.ecfp_rf import RandomForestSettings, ecfp4
from mumo.chem.conformer import ConformerConfig
from mumo.cli import build_parser
from mumo.plan import Plan

SCHEMA = str(REPO / "mumo" / "schemas" / "config.schema.yaml")


def _config(**overrides):
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    return config | overrides


@pytest.mark.parametrize("path", sorted((REPO / "config").glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_config_is_valid_and_plans(path):
    """What the Snakefile does first with a --configfile: a shipped config that fails here fails a user's run."""
    config = yaml.safe_load(path.read_text())
    validate(config, SCHEMA)
    plan = Plan.from_config(config)
    assert plan.datasets and plan.models


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"seeds": [0, 0]}, "seeds"),
        ({"datasets": {"bbbp": {"seeds": [1, 1]}}}, "seeds"),
        ({"split_fractions": [1.2, -0.1, -0.1]}, "split_fractions"),
        ({"seeds": ["0"]}, "seeds"),
        ({"structure": {"n_shards": "4"}}, "n_shards"),
        ({"download": {"retries": -1}}, "retries"),
        ({"structure": {"conformer": {"max_embed_attempts": 0}}}, "max_embed_attempts"),
        ({"structure": {"conformer": {"timeout_s": 10}}}, "timeout_s"),  # removed: a count bounds embedding
        ({"robustness": {"conformer_seeds": -1}}, "conformer_seeds"),
        ({"robustness": {"num_conformers": [1, 1]}}, "num_conformers"),
        ({"robustness": {"num_conformers": [0]}}, "num_conformers"),
        # ecfp_rf values scikit-learn refused only when the first forest trained, in its own words
        ({"ecfp_rf": {"max_features": "sqr"}}, "max_features"),
        ({"ecfp_rf": {"max_features": 0}}, "max_features"),
        ({"ecfp_rf": {"max_features": 1.5}}, "max_features"),
        ({"ecfp_rf": {"class_weight": "balance"}}, "class_weight"),
        ({"results_dir": ""}, "results_dir"),
    ],
)
def test_bad_values_are_refused_by_the_schema_naming_the_key(overrides, key):
    with pytest.raises(WorkflowError, match=key):
        validate(_config(**overrides), SCHEMA)


def _schema_defaults(*path: str) -> dict:
    node = yaml.safe_load(Path(SCHEMA).read_text())
    for key in path:
        node = node["properties"][key]
    return {key: value["default"] for key, value in node["properties"].items() if "default" in value}


def test_schema_defaults_are_the_librarys_and_the_clis():
    """The workflow, the library and `mumo train` default to the same values (one fact, checked here)."""
    forest = {f.name: f.default for f in dataclasses.fields(RandomForestSettings)}
    fingerprint = {k: p.default for k, p in inspect.signature(ecfp4).parameters.items() if k != "smiles"}
    assert _schema_defaults("ecfp_rf") == forest | fingerprint
    conformer = {f.name: f.default for f in dataclasses.fields(ConformerConfig)}
    assert _schema_defaults("structure", "conformer") == conformer
    train = build_parser().parse_args(
        ["train", "d.csv", "--output", "o", "--target-columns", "y", "--task-type", "regression"]
    )
    assert _schema_defaults()["split_fractions"] == train.split_fractions
    assert _schema_defaults("standardise")["fragments"] == train.fragments


def test_the_default_config_sets_what_the_schema_defaults_to():
    """config/config.yaml spells out the README's defaults; the schema gives the same to configs that omit them."""
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    assert config["ecfp_rf"]["n_estimators"] == _schema_defaults("ecfp_rf")["n_estimators"] == 200
    assert (
        config["mumo"]["corpus"]["n_molecules"] == _schema_defaults("mumo", "corpus")["n_molecules"] == 3000
    )
    assert (
        config["robustness"]
        == _schema_defaults("robustness")
        == {
            "conformer_seeds": 2,
            "num_conformers": [],
            "batch_size": None,
        }
    )
