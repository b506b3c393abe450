"""Published numbers beside ours: MuMo's own and the best other published value per task, split and metric.

`mumo/data/published.csv` is a hand-curated copy of published results, one row per (task, split, metric,
model) with its `source`; no number in it was produced by this project. Names differ between that file and
our runs, so three explicit mappings join them: our dataset → the published task, our metric → the published
metric, and our split → the published splits that are comparable, each with a note saying how the published
protocol differs from ours. A comparison is never made silently: every difference lands in `protocol_note`.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files

import pandas as pd

from mumo.data.registry import REGISTRY
from mumo.eval.metrics import get_metric

PUBLISHED_COLUMNS = [
    "published_mumo",
    "published_mumo_std",
    "published_mumo_n",
    "published_mumo_split",
    "published_mumo_source",
    "best_published",
    "best_published_std",
    "best_published_n",
    "best_published_model",
    "best_published_split",
    "best_published_source",
    "protocol_note",
]

METRIC_NAMES = {
    "roc_auc": "AUROC",
    "pr_auc": "AUPRC",
    "accuracy": "Accuracy",
    "f1": "F1",
    "mae": "MAE",
    "rmse": "RMSE",
    "r2": "R2",
    "pearson": "Pearson",
    "spearman": "Spearman",
}

#: our dataset name -> the published file's task name: MoleculeNet under our names, TDC under TDC's own
DATASET_TASKS: dict[str, str] = {
    name: spec.tdc_name or name for name, spec in REGISTRY.items() if spec.benchmark in ("MoleculeNet", "TDC")
}


@dataclass(frozen=True)
class Comparable:
    """A published split comparable to one of ours, and how its protocol differs ("" = the same)."""

    split: str
    note: str


_MUMO_RANDOM = "published MuMo: its 3 fixed random split files, one run each (seed 42); ours: seeded splits"
_MUMO_SCAFFOLD = "published MuMo: its own scaffold split files (implementation unverified)"
_TABLE = "published baseline as printed in MuMo's figure ({}), protocol not stated"
_LITERATURE_SCAFFOLD = "published: the citing paper's scaffold split (implementations differ)"

#: our split -> comparable published splits. MuMo's own rows come from the first split that has one.
COMPARABLE_SPLITS: dict[str, tuple[Comparable, ...]] = {
    "random": (
        Comparable("random", _MUMO_RANDOM),
        Comparable("mumo_table_random", _TABLE.format("-R column")),
        Comparable("mumo_table_unlabelled", _TABLE.format("split not labelled")),
    ),
    "scaffold": (
        Comparable("scaffold_mumo", _MUMO_SCAFFOLD),
        Comparable("scaffold", _LITERATURE_SCAFFOLD),
        Comparable("mumo_table_scaffold", _TABLE.format("-S column")),
    ),
    "balanced_scaffold": (
        Comparable("scaffold_mumo", "ours: balanced (Chemprop) scaffold split; " + _MUMO_SCAFFOLD),
        Comparable("scaffold", "ours: balanced (Chemprop) scaffold split; " + _LITERATURE_SCAFFOLD),
        Comparable("mumo_table_scaffold", "ours: balanced scaffold split; " + _TABLE.format("-S column")),
    ),
    # the authors' own split files (hub dataset, one split per task): their TDC numbers come from exactly these
    # files; for MoleculeNet they averaged 3 split files, and which one the hub holds is not recorded
    "authors": (
        Comparable(
            "random",
            "published MuMo: the mean of its 3 random split files, one run each; ours: the one split file per "
            "task that its hub dataset holds (not verified to be one of those 3)",
        ),
        Comparable("tdc_mumo", ""),
        Comparable("mumo_table_random", _TABLE.format("-R column")),
        Comparable(
            "tdc_admet_group",
            "published: TDC leaderboard on the benchmark group's train/valid splits, std with ddof=0",
        ),
    ),
    "tdc": (
        Comparable(
            "tdc_mumo",
            "published MuMo: its own fixed TDC split (its scripts run seed 42 once), not checked against "
            "the benchmark group's",
        ),
        Comparable("tdc_admet_group", "published std is TDC's population std (ddof=0)"),
    ),
}


def load_published() -> pd.DataFrame:
    """The packaged published-results table (numbers as floats, `n_seeds` empty where the source is silent)."""
    with files("mumo.data").joinpath("published.csv").open() as handle:
        return pd.read_csv(handle, dtype={"higher_is_better": str})


#: published_mumo<suffix> / best_published<suffix> <- published.csv column
_FIELDS = {"": "mean", "_std": "std", "_n": "n_seeds", "_split": "split", "_source": "source"}


def _is_mumo(model: str) -> bool:
    return model == "MuMo" or model.startswith("MuMo (")


def compare_row(
    dataset: str,
    task: str,
    split: str,
    metric: str,
    *,
    table_tasks: set[str],
    published: pd.DataFrame,
    benchmark: str | None = None,
) -> dict:
    """Published MuMo and best other published number for one of our table rows, with the protocol notes.

    Published numbers are per dataset, so a multi-task dataset is compared on its `macro` row only. "Best"
    is over every published model except MuMo itself, on the comparable splits. A row whose `benchmark`
    is not the registry's for that name is the user's own data under a registry name: it gets no numbers.
    """
    record = dict.fromkeys(PUBLISHED_COLUMNS, float("nan")) | {"protocol_note": ""}
    name, comparable = DATASET_TASKS.get(dataset), COMPARABLE_SPLITS.get(split, ())
    summary_task = "macro" if "macro" in table_tasks else task
    if name is None or metric not in METRIC_NAMES or task != summary_task:
        return record
    if benchmark is not None and benchmark != REGISTRY[dataset].benchmark:
        return record
    notes = {c.split: c.note for c in comparable}
    rows = published[
        (published["task"] == name)
        & (published["metric"] == METRIC_NAMES[metric])
        & published["split"].isin(notes)
    ]
    found = []
    mumo_rows = rows[rows["model"] == "MuMo"].set_index("split", drop=False)
    mumo = next((mumo_rows.loc[c.split] for c in comparable if c.split in mumo_rows.index), None)
    if mumo is not None:
        record |= {f"published_mumo{k}": mumo[c] for k, c in _FIELDS.items()}
        found.append(notes[mumo["split"]])
        if pd.isna(mumo["n_seeds"]):
            found.append("published MuMo: number of runs not stated")
    others = rows[~rows["model"].map(_is_mumo)]
    if len(others):
        ascending = not get_metric(metric).higher_is_better
        best = others.sort_values("mean", ascending=ascending, kind="stable").iloc[0]
        record |= {f"best_published{k}": best[c] for k, c in _FIELDS.items()}
        record["best_published_model"] = best["model"]
        found.append(notes[best["split"]])
    spec = REGISTRY.get(dataset)
    ours = table_tasks - {"macro"}
    if found and spec is not None and ours < set(spec.tasks):
        found.append(f"ours: task {', '.join(sorted(ours))} only, published: all {len(spec.tasks)} tasks")
    record["protocol_note"] = "; ".join(dict.fromkeys(n for n in found if n))
    return record


def compare(table: pd.DataFrame, published: pd.DataFrame) -> pd.DataFrame:
    """`table` (one row per dataset, task, split, model, metric) with the PUBLISHED_COLUMNS appended."""
    tasks = table.groupby("dataset")["task"].agg(set).to_dict()
    records = [
        compare_row(
            row.dataset,
            row.task,
            row.split,
            row.metric,
            table_tasks=tasks[row.dataset],
            published=published,
            benchmark=row.benchmark,
        )
        for row in table.itertuples(index=False)
    ]
    extra = pd.DataFrame(records, columns=PUBLISHED_COLUMNS, index=table.index)
    return pd.concat([table, extra], axis=1)
