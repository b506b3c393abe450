"""`mumo predict`: a finetuned model on a user's CSV, through the same featurisation as its training data.

Each SMILES goes through what the training molecules went through: standardisation with the fragment policy
and the structure stage with the conformer settings recorded in the model's `featurization.json` (a model
directory without one gets the defaults, with a warning). Predictions do not depend on `batch_size`, except
under the paper quirk `skip_edgeless_graph_steps` for a molecule without bonds or angles: its reason says so.

Every input row comes out, in input order, never dropped (blank lines included): `status` is
ok; truncated (longer than the model's max_length, so it saw a cut SMILES) or unknown_tokens (tokens outside
its vocabulary, read as [UNK]), both predicted but not to be trusted like ok rows; invalid_smiles (blank or
rejected by RDKit); no_structure (it parses but no structure record could be built); failed (the model raised
or gave a non-finite value). `reason` says why, and for a predicted row which conformer fallback its 3D prior
came from. Predictions are one column per task, `pred_<task>`: P(class 1), or values in the training units.
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from rdkit import rdBase

from mumo.chem.conformer import ConformerConfig
from mumo.chem.store import StructureStore, build_shard, read_smiles_table
from mumo.data.standardise import canonicalise
from mumo.io import output_owner, write_csv
from mumo.model.saved import (
    MODEL_DIR,
    find_model,
    load_config,
    load_model,
    read_featurization,
    read_task,
)
from mumo.plan.layout import GROUP_RECORD_PREFIX, finished_runs
from mumo.train.data import MoleculeDataset
from mumo.train.predict import batch_dependent, predict_isolating_failures, token_problem

logger = logging.getLogger(__name__)

STRUCTURES_DIR, ENSEMBLE_NAME = "structures", "ensemble.json"  # beside the seeds of a `mumo train` ensemble
TRAIN_COMMAND = "mumo train"  # the owner of its output folder (mumo.io.owned_output)
STATUSES = ("ok", "truncated", "unknown_tokens", "invalid_smiles", "no_structure", "failed")


def seed_folders(folder: Path) -> list[Path]:
    """The `seed{s}/` folders directly in `folder`, in seed order."""
    seeds = (p for p in folder.glob("seed*") if re.fullmatch(r"seed\d+", p.name) and p.is_dir())
    return sorted(seeds, key=lambda p: int(p.name[4:]))


def manifest_members(folder: Path) -> list[Path]:
    """The models a `mumo train` folder's `ensemble.json` lists, refused when one is missing or when the
    folder holds a seed folder it does not list (left by another run, it would be averaged in unseen)."""
    manifest = folder / ENSEMBLE_NAME
    record = json.loads(manifest.read_text())
    # written before ensemble.json listed its members: the seeds' model folders
    listed = record.get("members") or [f"seed{seed}/{MODEL_DIR}" for seed in record["seeds"]]
    for member in listed:
        if not (folder / member).is_dir():
            raise FileNotFoundError(f"{folder / member}: listed in {ENSEMBLE_NAME} but missing; train again")
    extra = [p for p in seed_folders(folder) if p.name not in {Path(m).parts[0] for m in listed}]
    if extra:
        raise ValueError(f"{extra[0]}: not listed in {ENSEMBLE_NAME} (left by another run?); remove it")
    return [find_model(folder / member) for member in listed]


def group_members(record: Path) -> list[Path]:
    """The models of a pipeline group record (`seeds-0+1+2.json`): exactly the seeds it lists as finished. A
    seed folder beside it that it does not list (a failed seed, another config's) is left out, and said so."""
    runs = finished_runs(record)
    for run in runs:
        if not run.is_dir():
            raise FileNotFoundError(f"{run}: listed as finished in {record} but missing; rerun the pipeline")
    unlisted = [p.name for p in seed_folders(record.parent) if p not in runs]
    if unlisted:
        logger.warning(
            "%s: %s not listed as finished in %s, left out", record.parent, ", ".join(unlisted), record.name
        )
    return [find_model(run) for run in runs]


def _group_record(folder: Path) -> Path | None:
    """The one group record in a pipeline run folder (None without one); several are refused: each lists
    other seeds, and averaging all the folder's seeds would mix runs of different configs."""
    records = sorted(folder.glob(f"{GROUP_RECORD_PREFIX}*.json"))
    if len(records) > 1:
        raise ValueError(
            f"{folder}: {len(records)} group records ({', '.join(r.name for r in records)}), one per config's "
            "seeds; pass the one whose seeds you mean as --model"
        )
    return records[0] if records else None


def ensemble_members(paths: Sequence[str | Path]) -> list[Path]:
    """The model directories of an ensemble: each path is a model (or run) directory, a `mumo train` folder
    (exactly the members its `ensemble.json` lists), a pipeline group record or the run folder holding it
    (exactly the seeds it lists as finished), or another folder of seeds (`seed0/`, `seed1/`, ...), in seed
    order."""
    members: list[Path] = []
    for path in map(Path, paths):
        record = path if path.is_file() and path.name.startswith(GROUP_RECORD_PREFIX) else None
        if (path / ENSEMBLE_NAME).exists():
            found = manifest_members(path)
        elif output_owner(path) == TRAIN_COMMAND:
            raise FileNotFoundError(
                f"{path}: mumo train has not finished here (no {ENSEMBLE_NAME}); run it again to complete it"
            )
        elif record or (path.is_dir() and (record := _group_record(path))):
            found = group_members(record)
        else:
            try:
                found = [find_model(path)]
            except FileNotFoundError:
                seeds = seed_folders(path)
                if not seeds:
                    raise
                found = [find_model(seed) for seed in seeds]
        members += [m for m in found if m not in members]
    return members


class _Stores:
    """Several structure stores read as one (the first holding a molecule wins)."""

    def __init__(self, stores: Sequence[StructureStore]) -> None:
        self.stores = list(stores)

    def __contains__(self, smiles: str) -> bool:
        return any(smiles in store for store in self.stores)

    def __getitem__(self, smiles: str) -> dict:
        for store in self.stores:
            if smiles in store:
                return store[smiles]
        raise KeyError(smiles)


def _same_for_all(members: list[Path], name: str, values: list) -> None:
    if any(value != values[0] for value in values[1:]):
        raise ValueError(
            f"the ensemble's models differ in their {name}: {members[0]} has {values[0]!r}, "
            f"{members[[v == values[0] for v in values].index(False)]} another; predict them separately"
        )


@dataclass(frozen=True)
class _Ensemble:
    """What the models of an ensemble share, and so what every input molecule goes through once for all."""

    members: list[Path]
    tasks: list[str]
    fragments: str
    conformer: ConformerConfig
    as_written: bool  # quirk tokens_from_raw_smiles: the models read the SMILES as written


def _ensemble(paths: Sequence[str | Path]) -> _Ensemble:
    """The ensemble's model folders, refused when they cannot be predicted together."""
    members = ensemble_members(paths)
    tasks = [read_task(m) for m in members]
    for m, task in zip(members, tasks, strict=True):
        if task.is_encoder:
            raise ValueError(f"{m} is a pretrained encoder without a property head; finetune it first")
    _same_for_all(members, "tasks", [(t.task_type, t.tasks) for t in tasks])
    recorded = [read_featurization(m) for m in members]
    featurized = [(f["fragments"], ConformerConfig(**f["conformer"])) for f in recorded]
    _same_for_all(members, "featurization (fragments, conformer settings)", featurized)
    # models with the paper quirk read the SMILES as written (all fragments, its spelling), as they trained
    as_written = [load_config(m).tokens_from_raw_smiles for m in members]
    _same_for_all(members, "model input (quirk tokens_from_raw_smiles)", as_written)
    fragments, conformer = featurized[0]
    return _Ensemble(members, list(tasks[0].tasks), fragments, conformer, as_written[0])


@dataclass(frozen=True)
class _Found:
    """The structure of one model input: its conformer outcome, the outcome's note and the record's SMILES."""

    outcome: str
    note: str
    smiles: str


def _structures(
    keys: list[str], store_dirs: list[Path], ensemble: _Ensemble, workers: int, tmp: Path
) -> tuple[_Stores, dict[str, _Found]]:
    """Structures of the model inputs `keys`: read from the given stores, the others computed once here for
    every model of the ensemble (into `tmp`)."""
    given = _Stores([StructureStore(d, conformer=ensemble.conformer) for d in store_dirs])
    missing = [k for k in keys if k not in given]
    store, found = given, {}
    if missing:
        verbatim = frozenset(missing) if ensemble.as_written else frozenset()
        computed = build_shard(
            missing, tmp / "structures.npz", ensemble.conformer, workers, verbatim=verbatim
        ).set_index("smiles")
        store = _Stores([*given.stores, StructureStore(tmp / "structures.npz")])
        for key in missing:
            row = computed.loc[key]
            found[key] = _Found(row["outcome"], row["reason"], row["canonical_smiles"])
    for key in keys:
        if key in given:
            record = given[key]
            found[key] = _Found(record["conformer_source"], record["reason"], key)
    logger.info(
        "%d molecules featurised, %d read from %s", len(missing), len(keys) - len(missing), store_dirs
    )
    return store, {key: found[key] for key in keys}


@dataclass
class _Predicted:
    """Every model's predictions of the molecules [models, n, tasks], and per molecule what to tell."""

    values: np.ndarray
    problems: list[list[tuple[str, str]]]  # (status, reason) of each model's tokenizer
    failures: dict[int, list[str]]  # why models failed on it
    batch_dependent: set[int]  # encoded differently by batch (quirk skip_edgeless_graph_steps)


def _predict_members(
    ensemble: _Ensemble, store: _Stores, molecules: list[str], batch_size: int, device: torch.device
) -> _Predicted:
    """Each model of the ensemble in turn on the molecules (one model in memory at a time)."""
    values = np.full((len(ensemble.members), len(molecules), len(ensemble.tasks)), np.nan)
    predicted = _Predicted(values, [[] for _ in molecules], {}, set())
    for m, member in enumerate(ensemble.members):
        saved = load_model(member, device=device)
        max_length = saved.task.max_length
        dataset = MoleculeDataset(molecules, store, saved.tokenizer, max_length)
        values[m], failed = predict_isolating_failures(
            saved.model, dataset, batch_size, device, len(ensemble.tasks)
        )
        for i, why in failed.items():
            predicted.failures.setdefault(i, []).append(f"{member}: {why}")
        for i, smi in enumerate(molecules):
            predicted.problems[i].append(token_problem(saved.tokenizer, smi, max_length))
    predicted.batch_dependent = {
        i for i, s in enumerate(molecules) if batch_dependent(saved.config, store[s])
    }
    return predicted


def _row_status(found: _Found, predicted: _Predicted, i: int, n_models: int) -> tuple[str, str]:
    """(status, reason) of the predicted molecule `i`: tokenizer problems, conformer fallback, batch quirk,
    and model failures (status failed when every model failed)."""
    conformer_note = (
        f"{found.outcome}: {found.note}" if found.note else ("" if found.outcome == "mmff" else found.outcome)
    )
    flagged = [p for p in dict.fromkeys(predicted.problems[i]) if p[0]]
    quirk_note = "depends on its batch (model with the paper quirk skip_edgeless_graph_steps)"
    parts = (
        *(why for _, why in flagged),
        conformer_note,
        quirk_note if i in predicted.batch_dependent else "",
    )
    status = flagged[0][0] if flagged else "ok"
    failures = predicted.failures.get(i, [])
    parts = (*parts, *failures)
    if failures and len(failures) == n_models:
        status = "failed"
    return status, "; ".join(part for part in parts if part)


def predict_csv(
    models: str | Path | Sequence[str | Path],
    input_csv: str | Path,
    output_csv: str | Path,
    *,
    smiles_column: str = "smiles",
    batch_size: int = 64,
    workers: int = 1,
    stores: Sequence[str | Path] = (),
) -> pd.DataFrame:
    """Write the input rows with canonical_smiles, status, reason and, per task, pred_<task> (the mean over
    the ensemble's models), std_<task> (their population standard deviation, 0 for one model) and n_models
    (how many models predicted the row); return that table.

    `models`: model directories, run directories or folders of seeds (`ensemble_members`). Structures are
    read from `stores` (files, or folders of them) and from the store file a `mumo train` ensemble recorded,
    where they hold the molecule, and the others computed once for all models, with the models' conformer
    settings; a store file built with other settings is refused (StoreSettingsError names it).
    """
    paths = [models] if isinstance(models, str | Path) else list(models)
    ensemble = _ensemble(paths)
    store_dirs = list(dict.fromkeys([*map(Path, stores), *_own_stores(paths, ensemble.members)]))
    table = read_smiles_table(input_csv, smiles_column)

    with rdBase.BlockLogs():  # the reasons go to the output, not to stderr
        standardised = [canonicalise(smiles, ensemble.fragments) for smiles in table[smiles_column]]
    keys = np.array([key for key, _ in standardised], dtype=object)
    # what the models read: the canonical key, or the string as written where the quirk is on
    inputs = np.where(pd.isna(keys), None, table[smiles_column].str.strip()) if ensemble.as_written else keys
    status = np.where(pd.isna(keys), "invalid_smiles", "no_structure").astype(object)
    reason = np.array([why for _, why in standardised], dtype=object)
    reason[table.eq("").all(axis=1).to_numpy()] = "blank line"
    valid = np.flatnonzero(~pd.isna(keys))
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

    with tempfile.TemporaryDirectory(prefix="mumo-predict-") as tmp:
        store, found = _structures(
            list(dict.fromkeys(inputs[valid])), store_dirs, ensemble, workers, Path(tmp)
        )
        rows = np.array([r for r in valid if found[inputs[r]].outcome != "rejected"], dtype=np.int64)
        predicted = _predict_members(
            ensemble, store, [found[inputs[r]].smiles for r in rows], batch_size, device
        )
    for i, row in enumerate(rows):
        status[row], reason[row] = _row_status(found[inputs[row]], predicted, i, len(ensemble.members))
    for row in valid:
        if found[inputs[row]].outcome == "rejected":
            reason[row] = found[inputs[row]].note
    values = np.full((len(ensemble.members), len(table), len(ensemble.tasks)), np.nan)
    values[:, rows] = predicted.values
    out = _with_predictions(
        table.assign(canonical_smiles=keys, status=status, reason=reason), values, ensemble
    )
    write_csv(out, output_csv)
    counts = pd.Series(status).value_counts().to_dict()
    logger.info(
        "%s: %d rows predicted by %d models, statuses %s", output_csv, len(out), len(ensemble.members), counts
    )
    return out


def _with_predictions(out: pd.DataFrame, values: np.ndarray, ensemble: _Ensemble) -> pd.DataFrame:
    """pred_<task> and std_<task> over the models, and n_models, from every model's values [models, rows, tasks]."""
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # rows no model predicted: NaN, as their status says
        mean, spread = np.nanmean(values, axis=0), np.nanstd(values, axis=0)
    for t, name in enumerate(ensemble.tasks):
        out[f"pred_{name}"], out[f"std_{name}"] = mean[:, t], spread[:, t]
    out["n_models"] = np.isfinite(values).all(axis=2).sum(axis=0)
    return out


def _own_stores(models: str | Path | Sequence[str | Path], members: list[Path]) -> list[Path]:
    """The store files `mumo train` recorded for the ensembles among `models` (its `ensemble.json`). An
    ensemble written before it recorded its file names a folder, which may hold files of other settings:
    not read (its molecules are computed)."""
    found = []
    for folder in {Path(p) for p in ([models] if isinstance(models, str | Path) else models)} | {
        m.parent.parent for m in members
    }:
        if (folder / ENSEMBLE_NAME).exists():
            store = Path(json.loads((folder / ENSEMBLE_NAME).read_text())["store"])
            store = store if store.is_absolute() else folder / store
            if store.is_dir():
                logger.info("%s: records a store folder, not its file; its molecules are computed", folder)
            elif store.exists():
                found.append(store)
    return sorted(found)
