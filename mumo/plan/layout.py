"""The plan of a checked config: which datasets (from which source), splits, seeds and models run, and every
file's path. The Snakefile asks `Plan` for its targets and paths; it never parses the config itself, so the
same plan is testable without Snakemake."""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import ClassVar

from mumo.catalog import ABLATIONS, ModelSpec, get_model
from mumo.chem.conformer import ConformerConfig
from mumo.data.hub import HubSource
from mumo.data.sources import ResolvedDataset, resolve
from mumo.eval.robustness import CONFORMER_SEED, NUM_CONFORMERS, REFERENCE, ConformerSet
from mumo.model.config import VOCAB_NAME, WEIGHTS_NAME
from mumo.plan.config import AUTHORS, IMPORTED_MODEL, ONLY_DATASETS, ConfigError, DatasetPlan, check_config
from mumo.train.training_log import TRAINING_LOG

_FILTER_KEYS = ("models", "splits", "seeds")  # given with --config, they filter the configured run
#: A corpus shard's job pays a start-up (~5 s: imports, reading the corpus) worth paying only for this many
#: molecules (~70 CPU-s of conformers at ~48 ms each); a smaller corpus gets fewer shards than n_shards.
MIN_SHARD_MOLECULES = 1500
#: a group record (`seeds-0+1+2.json`) sits beside its seeds' run folders and lists those that finished
GROUP_RECORD_PREFIX = "seeds-"


@dataclass(frozen=True)
class StorePart:
    """One file of the structure store, named by its path under `structure/` without `.npz`: a standardised
    table's molecules (`datasets/{table}`) or one shard of the pretraining corpus (`corpus/shard{k}`)."""

    table: str | None = None
    shard: int | None = None

    #: what a part's name may be; the structure rule's wildcard is constrained with it
    PATTERN: ClassVar[str] = rf"corpus/shard\d+|datasets/[A-Za-z0-9_\-]+(?:\.{AUTHORS})?"

    def __post_init__(self) -> None:
        if (self.table is None) == (self.shard is None):
            raise ValueError(
                f"a store part is a table or a corpus shard, not table={self.table} shard={self.shard}"
            )

    @classmethod
    def parse(cls, name: str) -> StorePart:
        if not re.fullmatch(cls.PATTERN, name):
            raise ValueError(f"{name!r} is not a structure store part (datasets/<table> or corpus/shard<k>)")
        corpus, shard = name.partition("corpus/shard")[1:]
        return cls(shard=int(shard)) if corpus else cls(table=name.removeprefix("datasets/"))

    @property
    def name(self) -> str:
        return f"corpus/shard{self.shard}" if self.is_corpus else f"datasets/{self.table}"

    @property
    def is_corpus(self) -> bool:
        return self.shard is not None

    @property
    def dataset(self) -> str | None:
        """The dataset whose table the part holds (None for the corpus)."""
        return None if self.table is None else self.table.removesuffix(f".{AUTHORS}")


def tagged_path(results: str | Path, stem: str, ext: str, tag: str) -> str:
    """A run's report file: `{results}/{stem}.{ext}`, or `{stem}.{tag}.{ext}` for a filtered run's tag."""
    return f"{results}/{stem}{'.' + tag if tag else ''}.{ext}"


@dataclass
class Plan:
    results: Path
    datasets: dict[str, DatasetPlan]
    models: tuple[str, ...]
    config: dict = field(repr=False, default_factory=dict)
    #: config keys given on the command line (`--config`): `models`, `splits` or `seeds` there filter the run
    overrides: frozenset[str] = frozenset()

    @classmethod
    def from_config(cls, config: dict, overrides: Collection[str] = ()) -> Plan:
        checked = check_config(config)
        return cls(checked.results, checked.datasets, checked.models, checked.config, frozenset(overrides))

    @cached_property
    def declared(self) -> Plan:
        """The plan of every dataset the config declares, whatever `only_datasets` keeps: the pretraining corpus
        leaves out, and the vocabulary covers, all of them, so that a filtered run never invalidates pretraining."""
        return Plan.from_config({**self.config, ONLY_DATASETS: []}) if self.config[ONLY_DATASETS] else self

    @property
    def tag(self) -> str:
        """Names the filter of a filtered run (`only_datasets`, or `models`, `splits` or `seeds` given on the
        command line), '' for a full run: a filtered run's table, reports and figures are files of its own, so it
        never overwrites the full run's. `only_datasets=[bbbp]` is `datasets-bbbp`."""
        only = self.config[ONLY_DATASETS]
        parts = [f"datasets-{'+'.join(only)}"] if only else []
        parts += [
            f"{key}-{'+'.join(map(str, self.models if key == 'models' else self.config[key]))}"
            for key in _FILTER_KEYS
            if key in self.overrides
        ]
        return ".".join(parts)

    def tagged(self, stem: str, ext: str) -> str:
        """`{results}/{stem}.{ext}`, with the filter's tag before the extension in a filtered run."""
        return tagged_path(self.results, stem, ext, self.tag)

    # ---- models ----
    def mumo_models(self) -> list[ModelSpec]:
        return [get_model(m) for m in self.models if get_model(m).kind == "mumo"]

    def pretrained_models(self) -> list[str]:
        """The MuMo models that need a pretraining job (not those started from imported weights)."""
        return [m.name for m in self.mumo_models() if m.pretrained and not self.imports_weights(m.name)]

    def training_budget(self) -> str | None:
        """One line for the figures: how MuMo was pretrained and finetuned (a model trained for a few epochs
        must not read as one that does not work); None without a MuMo model. Per-dataset overrides are
        mentioned, not spelled out (the learning-curve figure says what each dataset's runs did)."""
        if not self.mumo_models():
            return None
        mumo = self.config.get("mumo", {})
        finetune = mumo.get("finetune", {})
        stop = (
            f"early stopping on the validation loss (patience {finetune.get('patience')} evaluations)"
            if finetune.get("selection", "best_valid") == "best_valid" and finetune.get("patience")
            else "last step kept"
        )
        line = (
            f"MuMo {mumo.get('preset', 'small')}: finetuned ≤{finetune.get('epochs', 1)} epochs, lr {finetune.get('lr', 3e-4):g}, "
            f"{stop}"
        )
        if self.pretrained_models():
            corpus = mumo.get("corpus", {})
            size = corpus.get("n_molecules", 3000)
            line += (
                f"; pretrained {mumo.get('pretrain', {}).get('epochs', 1)} epoch(s) on "
                f"{f'{size:,}' if size else 'all'} {corpus.get('dataset', 'moses')} molecules"
            )
        if any(d.finetune for d in self.datasets.values()):
            line += "; some datasets override these (see the config)"
        return line

    @property
    def imported_source(self) -> str | None:
        """`mumo.pretrained`: the authors' checkpoint (a folder or owner/name@<commit>), or None."""
        return self.config.get("mumo", {}).get("pretrained") or None

    def imports_weights(self, model: str) -> bool:
        return model == IMPORTED_MODEL and self.imported_source is not None

    def model_settings(self, model: str, stage: str, dataset: str | None = None) -> dict:
        """TrainSettings dict for `stage` (pretrain | finetune) of a MuMo model: the config's, the dataset's
        finetuning overrides (the paper tuned lr, batch, epochs and pooler per task), then the model's preset
        and architecture overrides, which win so that an ablation stays an ablation."""
        spec = get_model(model)
        mumo = self.config["mumo"]
        own = self.datasets[dataset].finetune if dataset is not None and stage == "finetune" else {}
        settings = {**mumo[stage], **own}
        settings["preset"] = spec.preset or mumo["preset"]
        settings["model"] = {**mumo[stage].get("model", {}), **own.get("model", {}), **spec.overrides}
        return settings

    def raw_smiles_tables(self) -> list[str]:
        """The tables whose `smiles` as given some MuMo model reads (quirk `tokens_from_raw_smiles`): their
        strings need structure records and vocabulary tokens of their own."""
        from mumo.train.settings import TrainSettings

        return [
            path
            for name, d in self.datasets.items()
            if any(
                TrainSettings.from_dict(self.model_settings(m.name, "finetune", name)).tokens_from_raw_smiles
                for m in self.mumo_models()
            )
            for path in self.dataset_tables(name)
        ]

    @property
    def hub(self) -> HubSource:
        return HubSource.from_config(self.config.get("download", {}))

    # ---- paths (one place, so rules and tests agree) ----
    def raw(self, dataset: str) -> str:
        return f"{self.results}/data/raw/{dataset}.csv"

    def standardised(self, dataset: str) -> str:
        return f"{self.results}/data/standardised/{dataset}.csv"

    def table_name(self, dataset: str, split: str) -> str:
        """The stem of the table a split indexes: the dataset's own, or `{dataset}.authors` for their files."""
        return f"{dataset}.{AUTHORS}" if split == AUTHORS else dataset

    def split_table(self, dataset: str, split: str) -> str:
        """The standardised table that the split files of (dataset, split) index into."""
        return self.standardised(self.table_name(dataset, split))

    def dataset_tables(self, dataset: str) -> list[str]:
        """The standardised tables a dataset's configured splits need (each once)."""
        return list(
            dict.fromkeys(self.split_table(dataset, split) for split in self.datasets[dataset].splits)
        )

    def tables(self) -> dict[str, str]:
        """Every standardised table of the run, by its stem (`bbbp`, `bbbp.authors`)."""
        return {Path(path).stem: path for d in self.datasets for path in self.dataset_tables(d)}

    def counts_files(self) -> list[str]:
        return [path.removesuffix(".csv") + ".counts.json" for path in self.tables().values()]

    def ecfp_features(self, dataset: str, split: str) -> str:
        return f"{self.results}/features/ecfp/{self.table_name(dataset, split)}.npy"

    def split_file(self, dataset: str, split: str, seed: int | str) -> str:
        return f"{self.results}/data/splits/{dataset}/{split}/seed{seed}.json"

    def run_dir(self, model: str, dataset: str, split: str, seed: int | str) -> str:
        return f"{self.results}/runs/{model}/{dataset}/{split}/seed{seed}"

    def corpus(self) -> ResolvedDataset:
        name = self.config["mumo"]["corpus"]["dataset"]
        offline_only = self.config.get("download", {}).get("offline_only", True)
        try:
            return resolve(name, offline_only=offline_only)
        except (KeyError, ValueError) as err:
            raise ConfigError(f"mumo.corpus.dataset: {err.args[0]}") from None

    def structure_parts(self) -> list[StorePart]:
        """The files of the structure store this run builds: one per table, and the corpus's shards if a MuMo
        model is pretrained here; none without a MuMo model (nothing reads a 3D conformer)."""
        if not self.mumo_models():
            return []
        tables = [StorePart(table=stem) for stem in self.tables()]
        corpus = [StorePart(shard=k) for k in range(self.corpus_n_shards())]
        return tables + (corpus if self.pretrained_models() else [])

    def corpus_n_shards(self) -> int:
        """`structure.n_shards`, or fewer for a small corpus: each shard gets at least MIN_SHARD_MOLECULES of
        the corpus's `n_molecules` (a cached rerun then pays fewer start-ups)."""
        corpus = self.config["mumo"]["corpus"]
        molecules = corpus.get("n_molecules") or self.corpus().spec.rows
        return max(1, min(self.config["structure"]["n_shards"], molecules // MIN_SHARD_MOLECULES))

    def structure_file(self, part: StorePart) -> str:
        return f"{self.results}/structure/{part.name}.npz"

    def corpus_shards(self) -> list[str]:
        """The corpus's part of the store, in `corpus_n_shards()` files (the one large table)."""
        return [self.structure_file(p) for p in self.structure_parts() if p.is_corpus]

    def table_shards(self, dataset: str, split: str) -> list[str]:
        """The store file holding the molecules a finetune on (dataset, split) reads: a job declares the
        structures it reads, so a dataset's finetunes depend on no other dataset."""
        return [self.structure_file(StorePart(table=self.table_name(dataset, split)))]

    def structure_source(self, part: str) -> str:
        """The table whose molecules a part of the store holds."""
        store_part = StorePart.parse(part)
        return self.corpus_csv if store_part.is_corpus else self.standardised(store_part.table)

    def structure_sharding(self, part: str) -> tuple[int, int]:
        """(shard, number of shards) of the source's molecules a part holds: a table is one file."""
        store_part = StorePart.parse(part)
        return (store_part.shard, self.corpus_n_shards()) if store_part.is_corpus else (0, 1)

    def structure_raw_tables(self, part: str) -> list[str]:
        """The part's table if a model reads its `smiles` as given (those strings need records of their own)."""
        source = self.structure_source(part)
        return [source] if source in self.raw_smiles_tables() else []

    def structure_shard_reports(self) -> list[str]:
        """The outcome reports of the tables' parts (what structure_report summarises per dataset)."""
        return [
            f"{self.results}/structure/{part.name}.report.csv"
            for part in self.structure_parts()
            if not part.is_corpus
        ]

    # ---- conformer-noise robustness (mumo.steps.robustness) ----
    def robustness_sets(self) -> list[ConformerSet]:
        """The conformer sets the test folds are predicted with: the reference (`structure.conformer`), then
        `robustness.conformer_seeds` other seeds (seed + 1, ..., seed + K), then each of
        `robustness.num_conformers` other than the reference's, at the reference seed. None without a MuMo
        model or without a variant (the stage is off; a config without `robustness`, which the schema
        fills in, too)."""
        options = self.config.get("robustness", {})
        conformer = ConformerConfig.from_dict(
            self.config["structure"].get("conformer", {}), "structure.conformer"
        )
        seed, count = conformer.seed, conformer.num_conformers
        variants = [
            ConformerSet(seed + k, count, CONFORMER_SEED)
            for k in range(1, options.get("conformer_seeds", 0) + 1)
        ]
        variants += [
            ConformerSet(seed, n, NUM_CONFORMERS)
            for n in dict.fromkeys(options.get("num_conformers", []))
            if n != count
        ]
        if not variants or not self.mumo_models():
            return []
        return [ConformerSet(seed, count, REFERENCE), *variants]

    def robustness_conformer(self, name: str) -> dict:
        """The full conformer settings of the variant set `name` (`seed43-n1`): `structure.conformer` with its
        seed and number of conformers."""
        found = [s for s in self.robustness_sets()[1:] if s.name == name]
        if not found:
            raise ConfigError(f"robustness: no conformer set {name!r} in this run")
        return {
            **self.config["structure"].get("conformer", {}),
            "seed": found[0].seed,
            "num_conformers": found[0].num_conformers,
        }

    def robustness_store(self, name: str) -> str:
        """The store of a variant set: the test folds' molecules of every table of the run, in one file (a
        molecule in several test folds is computed once). A filtered run's file has a name of its own."""
        return self.tagged(f"structure/robustness/{name}", "npz")

    def robustness_stores(self) -> dict[str, str]:
        """Set name -> store file of every variant set (the reference reads the tables' own stores)."""
        return {s.name: self.robustness_store(s.name) for s in self.robustness_sets()[1:]}

    def robustness_models(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.mumo_models())

    def robustness_test_folds(self) -> dict[str, list[str]]:
        """Standardised table -> the split files whose test folds the stage featurises (every MuMo run's)."""
        folds: dict[str, list[str]] = {}
        for _, dataset, split, seed in self.runs(self.robustness_models()[:1]):
            folds.setdefault(self.split_table(dataset, split), []).append(
                self.split_file(dataset, split, seed)
            )
        return folds

    def robustness_raw_tables(self) -> list[str]:
        """The tables whose `smiles` as given a model reads (its test rows need records keyed by that string)."""
        return [table for table in self.robustness_test_folds() if table in self.raw_smiles_tables()]

    def robustness_runs(self) -> list[dict]:
        """What the prediction job does per MuMo run: the run folder holding its model, its split file, table,
        reference store and finetuning settings (the batch size and precision it predicted its test fold with)."""
        return [
            {
                "model": model,
                "dataset": dataset,
                "split": split,
                "seed": seed,
                "run_dir": self.run_dir(model, dataset, split, seed),
                "split_json": self.split_file(dataset, split, seed),
                "table": self.split_table(dataset, split),
                "reference_store": self.table_shards(dataset, split)[0],
                "settings": self.model_settings(model, "finetune", dataset),
            }
            for model, dataset, split, seed in self.runs(self.robustness_models())
        ]

    @property
    def robustness_outputs(self) -> dict[str, str]:
        """The stage's tables: the headline metric per run and set, the summary per run and family of sets,
        and every test molecule's predictions under every set."""
        return {
            "per_set": self.tagged("conformer_robustness", "csv"),
            "summary": self.tagged("conformer_robustness_summary", "csv"),
            "molecules": self.tagged("conformer_robustness_molecules", "csv.gz"),
        }

    @property
    def imported_dir(self) -> str:
        """Where `mumo.pretrained` is converted to a mumo model directory (weights, vocabulary, import.json)."""
        return f"{self.results}/pretrain/imported/model"

    @property
    def imported_files(self) -> dict[str, str]:
        """What the import_checkpoint rule writes: the weights, the vocabulary and the import record."""
        folder = self.imported_dir
        return {
            "weights": f"{folder}/{WEIGHTS_NAME}",
            "vocab": f"{folder}/{VOCAB_NAME}",
            "record": f"{folder}/import.json",
        }

    def pretrained_weights(self, model: str) -> list[str]:
        if self.imports_weights(model):
            return [self.imported_files["weights"]]
        return [self.pretrain_outputs(model)["weights"]] if get_model(model).pretrained else []

    def vocab(self, model: str) -> str:
        """The vocabulary a model finetunes with: the imported checkpoint's own, or the one built here."""
        return self.imported_files["vocab"] if self.imports_weights(model) else self.vocab_json

    @property
    def vocab_json(self) -> str:
        return f"{self.results}/pretrain/vocab.json"

    @property
    def corpus_csv(self) -> str:
        return f"{self.results}/pretrain/corpus.csv"

    @property
    def corpus_rejected(self) -> str:
        return f"{self.results}/pretrain/corpus.rejected.csv"

    def pretrain_dir(self, model: str) -> str:
        return f"{self.results}/pretrain/{model}"

    def pretrain_outputs(self, model: str) -> dict[str, str]:
        """A pretraining job's declared outputs (`model` may be the rule's "{model}" wildcard)."""
        folder = self.pretrain_dir(model)
        return {"weights": f"{folder}/model/{WEIGHTS_NAME}", "training_log": f"{folder}/{TRAINING_LOG}"}

    def runs(self, models: tuple[str, ...] | None = None) -> list[tuple[str, str, str, int]]:
        """(model, dataset, split, seed) of every run of `models` (default: the configured ones)."""
        return [
            (model, d.name, split, seed)
            for d in self.datasets.values()
            for split in d.splits
            for seed in d.seeds
            for model in (self.models if models is None else models)
        ]

    def run_metrics(self, models: tuple[str, ...] | None = None) -> list[str]:
        return [f"{self.run_dir(*run)}/metrics.json" for run in self.runs(models)]

    def groups(self, models: tuple[str, ...] | None = None) -> list[tuple[str, str, str, tuple[int, ...]]]:
        """(model, dataset, split, seeds): one training job each, which runs the seeds one after the other in
        one process (one start-up, one queue wait on a cluster, instead of one per seed)."""
        return [
            (model, d.name, split, d.seeds)
            for d in self.datasets.values()
            for split in d.splits
            for model in (self.models if models is None else models)
        ]

    def group_record(self, model: str, dataset: str, split: str, seeds: Collection[int]) -> str:
        """The one declared output of a group's job, written after its last seed. The seeds are in its name, so
        a run filtered to fewer seeds has a record of its own and reuses the seeds' folders."""
        return f"{self.results}/runs/{model}/{dataset}/{split}/{GROUP_RECORD_PREFIX}{'+'.join(map(str, seeds))}.json"

    def group_records(self, models: tuple[str, ...] | None = None) -> list[str]:
        return [self.group_record(*group) for group in self.groups(models)]

    def split_files(self, dataset: str, split: str, seeds: str) -> list[str]:
        """The split files of a group's seeds (`seeds` as in its record's name: `0+1+2`)."""
        return [self.split_file(dataset, split, seed) for seed in parse_seeds(seeds)]

    def seed_runs(self, model: str, dataset: str, split: str, seeds: str, log_dir: str) -> list[dict]:
        """What a group's job does per seed: its split file, its run folder and its own log in `log_dir`."""
        return [
            {
                "seed": seed,
                "split_json": self.split_file(dataset, split, seed),
                "run_dir": self.run_dir(model, dataset, split, seed),
                "log": f"{log_dir}/seed{seed}.log",
            }
            for seed in parse_seeds(seeds)
        ]

    def ablation_records(self) -> list[str]:
        """Every ablation's group record on the configured datasets (the `ablations` target), whether or not
        `models:` lists them. Their reference is whichever full MuMo model the config trains at the same preset."""
        return self.group_records(ABLATIONS)

    def finetune_training_logs(self) -> list[str]:
        """The per-step training log of every MuMo finetuning run."""
        names = tuple(m.name for m in self.mumo_models())
        return [f"{self.run_dir(*run)}/{TRAINING_LOG}" for run in self.runs(names)]

    def pretrain_training_logs(self) -> list[str]:
        return [self.pretrain_outputs(m)["training_log"] for m in self.pretrained_models()]

    def curve_inputs(self, stage: str) -> list[str]:
        """What the learning-curve figure of `stage` (pretrain | finetune) waits for: the pretraining logs, or
        the MuMo groups' records (their seeds' logs, `finetune_training_logs`, are no declared outputs)."""
        if stage == "pretrain":
            return self.pretrain_training_logs()
        return self.group_records(tuple(m.name for m in self.mumo_models()))

    def curve_files(self, stage: str) -> list[str]:
        """The training logs the learning-curve figure of `stage` draws."""
        return self.pretrain_training_logs() if stage == "pretrain" else self.finetune_training_logs()

    @property
    def table(self) -> str:
        return self.tagged("table", "csv")

    @property
    def comparisons(self) -> str:
        return self.tagged("comparisons", "csv")

    @property
    def compares(self) -> bool:
        """Whether the run has two models to compare seed by seed (comparisons.csv and its figure)."""
        return len(self.models) > 1

    @property
    def data_report(self) -> str:
        return self.tagged("data_report", "csv")

    @property
    def structure_report(self) -> str:
        return self.tagged("structure_report", "csv")

    @property
    def tag_dir(self) -> str:
        """'/{tag}' in a filtered run, else '': the sub-folder of its figures (and their logs)."""
        return f"/{self.tag}" if self.tag else ""

    @property
    def figures_dir(self) -> str:
        return f"{self.results}/figures{self.tag_dir}"

    def targets(self) -> list[str]:
        """What `snakemake` builds: the table, the paired comparisons where two models ran, the figures, the
        data report, and where a MuMo model needs structures the structure report and the conformer-robustness tables."""
        structure = [self.structure_report] if self.structure_parts() else []
        comparisons = [self.comparisons] if self.compares else []
        robustness = list(self.robustness_outputs.values()) if self.robustness_sets() else []
        return [self.table, *comparisons, *self.figures, self.data_report, *structure, *robustness]

    @property
    def figures(self) -> list[str]:
        """Every figure the configured models allow: the paired comparisons need two models, learning curves
        and the ablation chart MuMo runs."""
        names = ["metrics", "comparison", *(["paired"] if self.compares else [])]
        if self.mumo_models():
            names += ["ablations", "finetune_curves"]
        if self.pretrained_models():
            names.append("pretrain_curves")
        if self.robustness_sets():
            names.append("conformer_robustness")
        return [f"{self.figures_dir}/{name}.{ext}" for name in names for ext in ("png", "pdf")]

    def headline_metrics(self) -> dict[str, str]:
        return {name: d.spec.headline_metric for name, d in self.datasets.items()}

    def download_for(self, dataset: str) -> list[str]:
        """The upstream file a dataset needs, or nothing when it is read from an offline package or a path."""
        return self._download(self.declared.datasets[dataset].resolved)

    def corpus_download(self) -> list[str]:
        """The corpus's upstream file (ChEMBL), fetched by the download rule like every other."""
        return self._download(self.corpus()) if self.pretrained_models() else []

    def _download(self, resolved: ResolvedDataset) -> list[str]:
        if resolved.source != "upstream":
            return []
        return [f"{self.results}/data/downloads/{resolved.spec.upstream.filename}"]

    def upstream_by_filename(self, filename: str):
        sources = [d.resolved for d in self.declared.datasets.values()]
        if self.pretrained_models():
            sources.append(self.corpus())
        for resolved in sources:
            if resolved.source == "upstream" and resolved.spec.upstream.filename == filename:
                return resolved.spec.upstream
        raise ConfigError(f"no configured dataset downloads {filename!r}")


def finished_runs(record_path: str | Path) -> list[Path]:
    """The run folders of the seeds a group record lists as finished (a failed seed is not among them), each
    found where its `metrics.json` is (mumo.steps.seeds writes the record)."""
    record = json.loads(Path(record_path).read_text())
    return [(Path(record_path).parent / metrics).parent for metrics in record["metrics"]]


def parse_seeds(seeds: str) -> tuple[int, ...]:
    """The seeds of a group record's name (`0+1+2` -> (0, 1, 2))."""
    return tuple(int(seed) for seed in seeds.split("+"))
