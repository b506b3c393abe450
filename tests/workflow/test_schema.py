import pytest
import yaml
from helpers import REPO
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

SCHEMA = str(REPO / "workflow" / "schemas" / "config.schema.yaml")


def _config(**overrides):
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    return config | overrides


def test_the_default_config_is_valid():
    validate(_config(), SCHEMA)


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"seeds": [0, 0]}, "seeds"),
        ({"datasets": {"bbbp": {"seeds": [1, 1]}}}, "seeds"),
        ({"split_fractions": [1.2, -0.1, -0.1]}, "split_fractions"),
        ({"seeds": ["0"]}, "seeds"),
        ({"structure": {"n_shards": "4"}}, "n_shards"),
        ({"download": {"retries": -1}}, "retries"),
    ],
)
def test_bad_values_are_refused_by_the_schema_naming_the_key(overrides, key):
    with pytest.raises(WorkflowError, match=key):
        validate(_config(**overrides), SCHEMA)
