"""Reading a config: what the schema (`SCHEMA`) cannot check is checked here, each error naming its key, and
every dataset is resolved to its source, splits and seeds (`check_config`)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from mumo.catalog import ABLATIONS, MODELS, get_model
from mumo.data.hub import HubSource
from mumo.data.registry import REGISTRY, DatasetSpec
from mumo.data.sources import ResolvedDataset, resolve
from mumo.data.splits import SPLIT_NAMES, check_fractions

logger = logging.getLogger(__name__)

#: the config schema, shipped inside the package: the Snakefile and `mumo cost` validate against it
SCHEMA = Path(__file__).resolve().parent.parent / "schemas" / "config.schema.yaml"

TDC_SEEDS = (1, 2, 3, 4, 5)
#: The model whose architecture and quirks the authors' checkpoints have: `mumo.pretrained` starts it from them.
IMPORTED_MODEL = "mumo_paper"
AUTHORS = "authors"  # the split of the authors' own files (mumo.data.hub)
_CUSTOM_ONLY = {"smiles_column", "label_columns", "task_type", "metrics", "benchmark", "description"}


class ConfigError(ValueError):
    """A config value that the schema cannot catch (unknown dataset, split or model name...)."""


#: the datasets a run keeps; its old name `tasks` is still read, with a warning (it meant datasets, while
#: `datasets.<name>.tasks` means label columns)
ONLY_DATASETS, DEPRECATED_ONLY_DATASETS = "only_datasets", "tasks"


def _with_only_datasets(config: Mapping) -> dict:
    """`config` with its dataset filter under `only_datasets` (empty: every configured dataset), read from the
    old name `tasks` with a deprecation warning."""
    only, old = list(config.get(ONLY_DATASETS) or []), config.get(DEPRECATED_ONLY_DATASETS)
    config = {key: value for key, value in config.items() if key != DEPRECATED_ONLY_DATASETS}
    if old is not None:
        if only and old and only != list(old):
            raise ConfigError(
                f"{DEPRECATED_ONLY_DATASETS} {list(old)} and {ONLY_DATASETS} {only} disagree: "
                f"`{DEPRECATED_ONLY_DATASETS}` is the old name of `{ONLY_DATASETS}`; give only `{ONLY_DATASETS}`"
            )
        logger.warning(
            "config key `%s` is deprecated: it is now `%s`, the datasets a run keeps (`datasets.<name>.tasks` "
            "are label columns); read as %s: %s",
            DEPRECATED_ONLY_DATASETS,
            ONLY_DATASETS,
            ONLY_DATASETS,
            list(old),
        )
        only = only or list(old)
    return {**config, ONLY_DATASETS: only}


@dataclass(frozen=True)
class DatasetPlan:
    name: str
    resolved: ResolvedDataset
    splits: tuple[str, ...]
    seeds: tuple[int, ...]
    finetune: dict = field(default_factory=dict)  # this dataset's overrides of mumo.finetune

    @property
    def spec(self):
        return self.resolved.spec


@dataclass(frozen=True)
class CheckedConfig:
    config: dict  # as given, its dataset filter under `only_datasets`
    results: Path
    models: tuple[str, ...]
    datasets: dict[str, DatasetPlan]


def check_config(config: dict) -> CheckedConfig:
    """The config read and checked for what the schema cannot see (unknown names, settings that only fail
    inside a job), each error naming its key; every dataset resolved to its source, splits and seeds."""
    config = _with_only_datasets(config)
    offline_only = config.get("download", {}).get("offline_only", True)
    only = set(config[ONLY_DATASETS])
    unknown = only - set(config["datasets"])
    if unknown:
        raise ConfigError(
            f"{ONLY_DATASETS}: {sorted(unknown)} not among the configured datasets {sorted(config['datasets'])}"
        )
    for model in config["models"]:
        if model not in MODELS:
            raise ConfigError(f"models: unknown model {model!r}; valid models: {', '.join(MODELS)}")
    # `ablations: true` adds every ablation to the models (after those listed, without repeats)
    models = tuple(dict.fromkeys([*config["models"], *(ABLATIONS if config.get("ablations") else ())]))
    if any(get_model(m).kind == "mumo" for m in models):
        _check_train_settings(config)
    if any(get_model(m).kind == "chemprop" for m in models):
        _check_chemprop_settings(config)
    if config.get("mumo", {}).get("pretrained") and IMPORTED_MODEL not in models:
        raise ConfigError(
            f"mumo.pretrained: the authors' weights start {IMPORTED_MODEL}, which `models` does not list "
            f"({', '.join(models)}); add it, or remove mumo.pretrained"
        )
    _check_seeds("seeds", config["seeds"])
    results = str(config.get("results_dir", "results"))
    if not results.strip():
        raise ConfigError("results_dir: empty; name the folder for the run's files (default: results)")
    if "ecfp_rf" in models:
        _check_ecfp_rf(config.get("ecfp_rf") or {})
    if "split_fractions" in config:
        _check_fractions(config["split_fractions"])
    hub = HubSource.from_config(config.get("download", {}))
    datasets = {
        name: _dataset_plan(name, options or {}, config, hub, offline_only)
        for name, options in config["datasets"].items()
        if not only or name in only
    }
    return CheckedConfig(config, Path(results), models, datasets)


def type_command_line_values(config: dict, overrides: Mapping) -> None:
    """Give `--config` values the types a config file would give them, in place.

    Snakemake parses a `--config` value's top level itself but reads lists and mappings with YAML's
    BaseLoader, so `seeds=[1]` arrives as ['1'] and the schema refuses it. Only the strings that came from
    the command line are retyped (a config file's quoted "1" stays a string).
    """

    def retype(value, given):
        if isinstance(given, Mapping):
            return {key: retype(value[key], given[key]) if key in given else value[key] for key in value}
        if isinstance(given, list):
            return [retype(item, item) for item in value]
        if isinstance(given, str) and given:
            parsed = yaml.safe_load(given)
            return parsed if isinstance(parsed, (bool, int, float)) else value
        return value

    for key, given in overrides.items():
        if isinstance(given, (Mapping, list)) and key in config:
            config[key] = retype(config[key], given)


def _check_seeds(key: str, seeds: list) -> None:
    """A repeated seed would count one run twice in n_seeds and shrink the reported std."""
    repeated = sorted({s for s in seeds if list(seeds).count(s) > 1})
    if repeated:
        raise ConfigError(f"{key}: seed(s) {repeated} listed twice; each seed is one independent run")


def _check_fractions(fractions: list) -> None:
    """The rule `mumo train --split-fractions` follows too (`mumo.data.splits.check_fractions`)."""
    try:
        check_fractions(fractions, "split_fractions")
    except ValueError as err:
        raise ConfigError(str(err)) from None


def _dataset_plan(name: str, options: dict, config: dict, hub: HubSource, offline_only: bool) -> DatasetPlan:
    """One entry of `datasets`, checked and resolved: its splits and seeds default to the config's, or to
    TDC's own split and five seeds for a TDC benchmark dataset."""
    _check_dataset_options(name, options)
    registered = REGISTRY.get(name) if "path" not in options else None
    is_tdc = registered is not None and registered.benchmark == "TDC"
    splits = tuple(options.get("splits") or (["tdc"] if is_tdc else config["splits"]))
    for split in splits:
        if split not in SPLIT_NAMES:
            raise ConfigError(
                f"datasets.{name}: unknown split {split!r}; valid splits: {', '.join(SPLIT_NAMES)}"
            )
    if AUTHORS in splits:
        _check_authors(name, registered, hub, offline_only)
    try:
        # a dataset run on the authors' files alone never reads its own source
        resolved = resolve(name, options, offline_only=offline_only and set(splits) != {AUTHORS})
    except (KeyError, ValueError) as err:
        raise ConfigError(f"datasets.{name}: {err.args[0]}") from None
    seeds = tuple(options.get("seeds") or (TDC_SEEDS if is_tdc and "tdc" in splits else config["seeds"]))
    return DatasetPlan(name, resolved, splits, seeds, options.get("finetune") or {})


def _check_dataset_options(name: str, options: dict) -> None:
    """Own data under a registry name would be compared with that dataset's published numbers."""
    registered = REGISTRY.get(name)
    if (
        "path" in options
        and registered
        and options.get("benchmark", registered.benchmark) == registered.benchmark
    ):
        raise ConfigError(
            f"datasets.{name}: {name!r} is a registry dataset ({registered.benchmark}), but this entry "
            f"reads your own file {options['path']!r}; its table rows would sit beside the published numbers "
            f"of the registry's data. Rename the dataset, or mark it as your own with `benchmark: custom`"
        )
    ignored = (_CUSTOM_ONLY if "path" not in options else {"tasks"}) & set(options)
    if ignored:
        kind = (
            "custom datasets (with `path`)"
            if "path" not in options
            else "registry datasets (use label_columns)"
        )
        raise ConfigError(f"datasets.{name}: {sorted(ignored)} only apply to {kind}; they would be ignored")
    if options.get("seeds"):
        _check_seeds(f"datasets.{name}.seeds", options["seeds"])
    if options.get("metrics"):
        from mumo.eval.metrics import get_metric  # imports sklearn: only when a dataset lists metrics

        for metric in options["metrics"]:
            try:
                get_metric(metric)
            except KeyError as err:
                raise ConfigError(f"datasets.{name}.metrics: {err.args[0]}") from None


def _check_authors(name: str, spec: DatasetSpec | None, hub: HubSource, offline_only: bool) -> None:
    """Split `authors` needs the dataset in the authors' hub dataset, and the hub (or a mirror of it)."""
    if spec is None or spec.hub is None:
        having = sorted(n for n, s in REGISTRY.items() if s.hub is not None)
        raise ConfigError(
            f"datasets.{name}: split {AUTHORS!r} needs the authors' files, which exist for: {', '.join(having)}"
        )
    if offline_only and not hub.mirror:
        raise ConfigError(
            f"datasets.{name}: split {AUTHORS!r} downloads the authors' files from {hub.repo}; set "
            "download.offline_only: false, or download.hub_mirror to a local copy"
        )


def _check_ecfp_rf(options: dict) -> None:
    """What the schema cannot see alone: an integer max_features must fit in the fingerprint's n_bits
    (scikit-learn would only say so when the first forest trains, in its own words)."""
    n_bits, max_features = options.get("n_bits", 2048), options.get("max_features")
    if isinstance(max_features, int) and not isinstance(max_features, bool) and max_features > n_bits:
        raise ConfigError(
            f"ecfp_rf.max_features: {max_features} features per split, more than the fingerprint's "
            f"n_bits {n_bits}; use at most {n_bits}, a fraction in (0, 1], sqrt or log2"
        )


def _check_train_settings(config: dict) -> None:
    """Fail at start-up, naming the key, rather than in the first training job."""
    from mumo.train.settings import TrainSettings  # imports torch: only when a MuMo model is asked for

    mumo = config["mumo"]
    checks = {f"mumo.{stage}": mumo[stage] for stage in ("pretrain", "finetune")}
    for name, options in config["datasets"].items():
        own = (options or {}).get("finetune")
        if own:
            model = {**mumo["finetune"].get("model", {}), **own.get("model", {})}
            checks[f"datasets.{name}.finetune"] = {**mumo["finetune"], **own, "model": model}
    for key, settings in checks.items():
        try:
            TrainSettings.from_dict({"preset": mumo["preset"], **settings})
        except (KeyError, TypeError, ValueError) as err:
            raise ConfigError(f"{key}: {err}") from None


def _check_chemprop_settings(config: dict) -> None:
    """Chemprop's settings checked at start-up, naming the key, not in the first Chemprop job."""
    from mumo.baselines.chemprop import ChempropSettings

    try:
        ChempropSettings.from_dict(config.get("chemprop"))
    except ValueError as err:
        raise ConfigError(f"chemprop: {err}") from None
