"""Conformer-noise robustness, inference only: every trained MuMo seed predicts its test fold again under each
conformer set of the run (`Plan.robustness_sets`: its own conformers, other ETKDG seeds, another number of
conformers), reading the stores the `robustness_structure` jobs built (the reference: the tables' own stores)
and predicting with the batch size and precision its training job predicted that fold with, so that the
reference set gives the run's own test predictions.

Writes the headline test metric per run and set, the summary per run and family of sets (mumo.eval.robustness)
and every test molecule's predictions under every set. A molecule whose conformer falls back to 2D under a set is
kept (it is what the model sees) and counted; one without any structure record has no prediction under that set
and is counted too.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from mumo.chem.store import StructureStore
from mumo.data.sources import read_csv_checked
from mumo.eval.evaluate import MACRO, score_predictions
from mumo.eval.robustness import (
    FALLBACK,
    NO_RECORD,
    PER_MOLECULE_KEYS,
    RUN_KEYS,
    ConformerSet,
    fallback_sets,
    families,
    molecule_spread,
    pred_column,
    run_summary,
    source_column,
)
from mumo.io import atomic_path, write_csv, write_json
from mumo.model.config import WEIGHTS_NAME
from mumo.model.saved import MODEL_DIR, SavedModel, load_model
from mumo.train.data import MoleculeDataset, split_by_store
from mumo.train.predict import predict_dataset
from mumo.train.settings import TrainSettings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RobustnessRun:
    """One trained seed (Plan.robustness_runs): its folder, split, table, reference store and finetuning
    settings."""

    model: str
    dataset: str
    split: str
    seed: int
    run_dir: str
    split_json: str
    table: str
    reference_store: str
    settings: dict

    @property
    def keys(self) -> dict:
        return {"dataset": self.dataset, "split": self.split, "model": self.model, "seed": self.seed}


def conformer_robustness(
    runs: list[RobustnessRun],
    sets: list[ConformerSet],
    stores: dict[str, str],
    headline: dict[str, str],
    *,
    threads: int,
    batch_size: int | None,
    outputs: dict[str, str],
) -> None:
    """Predict every run's test fold under every set; `stores` maps each variant set's name to its store file,
    `headline` each dataset to its headline metric, `outputs` per_set, summary and molecules to their paths.
    `batch_size` None predicts with each run's finetuning batch size (the reference set then repeats the run's
    test predictions exactly); a larger one is faster on a GPU for models finetuned in batches of a few."""
    torch.set_num_threads(threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    open_store = cache(StructureStore)  # each store's index is read once for every run
    molecules, per_set, summaries = [], [], []
    for run in runs:
        frame, task_type = _predicted(
            run,
            sets,
            stores,
            open_store,
            device=device,
            batch_size=batch_size,
            name=Path(outputs["molecules"]).name,
        )
        scores = score_sets(frame, sets, headline[run.dataset])
        per_set.append(scores.assign(**run.keys))
        for family in families(sets).values():
            frame[f"spread_{family[-1].varied}"] = molecule_spread(frame, [s.name for s in family])
            summary = run_summary(frame, scores.set_index("conformer_set")["value"], family)
            summaries.append({**run.keys, "metric": headline[run.dataset], "task_type": task_type, **summary})
        molecules.append(frame.assign(fallback_sets=fallback_sets(frame, [s.name for s in sets])))
    per_set_frame = pd.concat(per_set, ignore_index=True)
    write_csv(
        per_set_frame[[*RUN_KEYS, *(c for c in per_set_frame.columns if c not in RUN_KEYS)]],
        outputs["per_set"],
    )
    write_csv(pd.DataFrame(summaries), outputs["summary"])
    with atomic_path(outputs["molecules"]) as tmp:
        pd.concat(molecules, ignore_index=True).to_csv(tmp, index=False, compression="gzip")


def _predicted(
    run: RobustnessRun,
    sets: list[ConformerSet],
    stores: dict[str, str],
    open_store: Callable[[str], StructureStore],
    *,
    device: torch.device,
    batch_size: int | None,
    name: str,
) -> tuple[pd.DataFrame, str]:
    """The run's per-molecule predictions and task type. A job killed or retried at paper scale (hours on a
    GPU) keeps what it finished: each run's are saved in its folder under `name` (the molecules output's, so
    a filtered run's are files of their own), with a key of what they were made from (sets, batch size, and
    the size and modification time of the model's weights, split, table and stores, as Snakemake judges
    files) in `name`.json, and reused while that key holds."""
    files = [Path(run.run_dir) / MODEL_DIR / WEIGHTS_NAME, run.split_json, run.table, run.reference_store]
    made_from = {
        "run": dataclasses.asdict(run),
        "sets": [s.name for s in sets],
        "batch_size": batch_size,
        "files": [(str(f), os.stat(f).st_mtime_ns, os.stat(f).st_size) for f in [*files, *stores.values()]],
    }
    key = hashlib.sha256(json.dumps(made_from, sort_keys=True, default=str).encode()).hexdigest()[:16]
    frame_path, key_path = Path(run.run_dir) / name, Path(run.run_dir) / f"{name}.json"
    if frame_path.exists() and key_path.exists():
        done = json.loads(key_path.read_text())
        if done.get("key") == key:
            logger.info("%s: predictions of an earlier job from the same inputs, kept", run.run_dir)
            return pd.read_csv(frame_path, dtype={"canonical_smiles": "string"}), done["task_type"]
    saved = load_model(run.run_dir, device=device)
    store_of = {sets[0].name: open_store(run.reference_store)} | {n: open_store(p) for n, p in stores.items()}
    frame = predict_run(run, saved, sets, store_of, device=device, batch_size=batch_size)
    with atomic_path(frame_path) as tmp:
        frame.to_csv(tmp, index=False, compression="gzip")
    write_json({"key": key, "task_type": saved.task.task_type}, key_path)
    logger.info(
        "%s: %d test molecules under %d conformer sets", run.run_dir, frame["mol_id"].nunique(), len(sets)
    )
    return frame, saved.task.task_type


def predict_run(
    run: RobustnessRun,
    saved: SavedModel,
    sets: list[ConformerSet],
    stores: dict[str, StructureStore],
    *,
    device: torch.device,
    batch_size: int | None = None,
) -> pd.DataFrame:
    """The run's test molecules, one row per (molecule, task), with `pred_<set>` and `source_<set>` (conformer
    source, or NO_RECORD without a structure record) for every set."""
    _check_reference(run, saved, sets[0])
    settings = TrainSettings.from_dict({**run.settings, "seed": run.seed})
    if batch_size is not None:
        settings = dataclasses.replace(settings, batch_size=batch_size)
    tasks = saved.task.tasks
    column = "smiles" if saved.config.tokens_from_raw_smiles else "canonical_smiles"
    table = read_csv_checked(
        run.table,
        ["mol_id", "canonical_smiles", column, *tasks],
        dtype={"canonical_smiles": "string", column: "string"},
    )
    test = np.asarray(json.loads(Path(run.split_json).read_text())["test"], dtype=np.int64)
    fold = table.iloc[test].reset_index(drop=True)
    inputs = fold[column].to_numpy(dtype=object)
    out = pd.concat(
        [
            fold[["mol_id", "canonical_smiles"]].assign(task=task, y_true=fold[task].astype(float))
            for task in tasks
        ],
        ignore_index=True,
    ).assign(**run.keys)[PER_MOLECULE_KEYS]
    for conformer_set in sets:
        values, sources = _predict_set(saved, stores[conformer_set.name], inputs, settings, device)
        out[pred_column(conformer_set.name)] = values.T.reshape(-1)  # task-major, as the rows above
        out[source_column(conformer_set.name)] = np.tile(sources, len(tasks))
    return out


def _predict_set(
    saved: SavedModel,
    store: StructureStore,
    inputs: np.ndarray,
    settings: TrainSettings,
    device: torch.device,
) -> tuple[np.ndarray, np.ndarray]:
    """Predictions [n, tasks] (NaN without a structure record) and the conformer source of each input."""
    present, _ = split_by_store(inputs, store)
    values = np.full((len(inputs), len(saved.task.tasks)), np.nan)
    sources = np.full(len(inputs), NO_RECORD, dtype=object)
    if len(present):
        dataset = MoleculeDataset(inputs[present], store, saved.tokenizer, saved.task.max_length)
        values[present] = predict_dataset(
            saved.model, dataset, settings.batch_size, device, settings.precision
        )
        sources[present] = [store[smiles]["conformer_source"] for smiles in inputs[present]]
    return values, sources


def _check_reference(run: RobustnessRun, saved: SavedModel, reference: ConformerSet) -> None:
    """The reference set must be what the model was trained and tested with, or its spread means nothing."""
    trained = saved.featurization["conformer"]
    if (trained["seed"], trained["num_conformers"]) != (reference.seed, reference.num_conformers):
        raise ValueError(
            f"{saved.directory}: trained with conformer seed {trained['seed']} and num_conformers "
            f"{trained['num_conformers']}, but structure.conformer has seed {reference.seed} and num_conformers "
            f"{reference.num_conformers}; finetune {run.model} on {run.dataset} again (delete its group record)"
        )


def score_sets(molecules: pd.DataFrame, sets: list[ConformerSet], metric: str) -> pd.DataFrame:
    """One row per set: the headline metric on the test fold (the macro average over tasks for multi-task
    data), the molecules predicted and those with a 2D-only structure under that set."""
    rows = []
    for conformer_set in sets:
        name = conformer_set.name
        long = molecules[["mol_id", "task", "y_true"]].assign(
            fold="test", y_pred=molecules[pred_column(name)]
        )
        scores = score_predictions(long, [metric])
        headline = scores[scores["task"] == MACRO] if (scores["task"] == MACRO).any() else scores
        per_molecule = molecules.drop_duplicates("mol_id")
        rows.append(
            {
                "conformer_set": name,
                "varied": conformer_set.varied,
                "conformer_seed": conformer_set.seed,
                "num_conformers": conformer_set.num_conformers,
                "metric": metric,
                "value": float(headline["value"].iloc[0]),
                "n_molecules": len(per_molecule),
                "n_predicted": int(per_molecule[pred_column(name)].notna().sum()),
                "n_2d_fallback": int((per_molecule[source_column(name)] == FALLBACK).sum()),
            }
        )
    return pd.DataFrame(rows)
