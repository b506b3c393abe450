"""From a validated config to the concrete set of runs: which datasets (from which source), splits, seeds
and models. The Snakefile asks this object for target paths; it never parses the config itself, so the same
plan is testable without Snakemake."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mumo.data.sources import ResolvedDataset, resolve
from mumo.data.splits import SPLIT_NAMES

MODELS = ("ecfp_rf",)
TDC_SEEDS = (1, 2, 3, 4, 5)


class ConfigError(ValueError):
    """A config value that the schema cannot catch (unknown dataset, split or model name...)."""


@dataclass(frozen=True)
class DatasetPlan:
    name: str
    resolved: ResolvedDataset
    splits: tuple[str, ...]
    seeds: tuple[int, ...]

    @property
    def spec(self):
        return self.resolved.spec


@dataclass
class Plan:
    results: Path
    datasets: dict[str, DatasetPlan]
    models: tuple[str, ...]
    config: dict = field(repr=False, default_factory=dict)

    @classmethod
    def from_config(cls, config: dict) -> Plan:
        offline_only = config.get("download", {}).get("offline_only", True)
        only = set(config.get("tasks") or [])
        unknown = only - set(config["datasets"])
        if unknown:
            raise ConfigError(
                f"tasks: {sorted(unknown)} not among the configured datasets {sorted(config['datasets'])}"
            )
        for model in config["models"]:
            if model not in MODELS:
                raise ConfigError(f"models: unknown model {model!r}; valid models: {', '.join(MODELS)}")
        datasets = {}
        for name, options in config["datasets"].items():
            if only and name not in only:
                continue
            options = options or {}
            try:
                resolved = resolve(name, options, offline_only=offline_only)
            except (KeyError, ValueError) as err:
                raise ConfigError(f"datasets.{name}: {err.args[0]}") from None
            is_tdc = resolved.spec.benchmark == "TDC"
            splits = tuple(options.get("splits") or (["tdc"] if is_tdc else config["splits"]))
            for split in splits:
                if split not in SPLIT_NAMES:
                    raise ConfigError(
                        f"datasets.{name}: unknown split {split!r}; valid splits: {', '.join(SPLIT_NAMES)}"
                    )
            seeds = tuple(
                options.get("seeds") or (TDC_SEEDS if is_tdc and "tdc" in splits else config["seeds"])
            )
            datasets[name] = DatasetPlan(name, resolved, splits, seeds)
        return cls(Path(config.get("results_dir", "results")), datasets, tuple(config["models"]), config)

    # ---- paths (one place, so rules and tests agree) ----
    def raw(self, dataset: str) -> str:
        return f"{self.results}/data/raw/{dataset}.csv"

    def standardised(self, dataset: str) -> str:
        return f"{self.results}/data/standardised/{dataset}.csv"

    def split_file(self, dataset: str, split: str, seed: int | str) -> str:
        return f"{self.results}/data/splits/{dataset}/{split}/seed{seed}.json"

    def run_dir(self, model: str, dataset: str, split: str, seed: int | str) -> str:
        return f"{self.results}/runs/{model}/{dataset}/{split}/seed{seed}"

    def runs(self) -> list[tuple[str, str, str, int]]:
        return [
            (model, d.name, split, seed)
            for d in self.datasets.values()
            for split in d.splits
            for seed in d.seeds
            for model in self.models
        ]

    def run_metrics(self) -> list[str]:
        return [f"{self.run_dir(*run)}/metrics.json" for run in self.runs()]

    @property
    def table(self) -> str:
        return f"{self.results}/table.csv"

    @property
    def data_report(self) -> str:
        return f"{self.results}/data_report.csv"

    @property
    def structure_report(self) -> str:
        return f"{self.results}/structure_report.csv"

    @property
    def figures(self) -> list[str]:
        return [f"{self.results}/figures/metrics.{ext}" for ext in ("png", "pdf")]

    def headline_metrics(self) -> dict[str, str]:
        return {name: d.spec.headline_metric for name, d in self.datasets.items()}

    def download_for(self, dataset: str) -> list[str]:
        """The upstream file a dataset needs, or nothing when it is read from an offline package or a path."""
        d = self.datasets[dataset]
        if d.resolved.source != "upstream":
            return []
        return [f"{self.results}/data/downloads/{d.spec.upstream.filename}"]

    def upstream_by_filename(self, filename: str):
        for d in self.datasets.values():
            if d.resolved.source == "upstream" and d.spec.upstream.filename == filename:
                return d.spec.upstream
        raise ConfigError(f"no configured dataset downloads {filename!r}")
