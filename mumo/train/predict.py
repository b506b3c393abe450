"""`mumo predict`: a finetuned model on a user's CSV, with the structure stage run on the fly.

Every input row comes out, in input order, never dropped: `status` is ok, invalid_smiles (RDKit rejects it),
no_structure (it parses but no structure record could be built) or failed (the model raised or gave a
non-finite value), and `reason` says why, or, for an ok row, which conformer fallback its 3D prior came from.
Predictions are one column per task, `pred_<task>`: P(class 1), or values in the training units.
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from mumo.chem.store import StructureStore, featurize_csv
from mumo.chem.tokenizer import SmilesTokenizer
from mumo.io import atomic_path
from mumo.model import load_pretrained
from mumo.model.checkpoint import CONFIG_NAME
from mumo.train.data import MoleculeDataset, eval_batches
from mumo.train.recipes import MODEL_DIR, TASK_NAME, VOCAB_NAME, predict_batch

logger = logging.getLogger(__name__)

STATUSES = ("ok", "invalid_smiles", "no_structure", "failed")


def model_directory(checkpoint: str | Path) -> Path:
    """The model directory itself, or a run directory holding `model/`."""
    path = Path(checkpoint)
    for candidate in (path, path / MODEL_DIR):
        if (candidate / CONFIG_NAME).exists() and (candidate / TASK_NAME).exists():
            return candidate
    raise FileNotFoundError(
        f"{checkpoint}: no trained model (expected {CONFIG_NAME} and {TASK_NAME} in it or in {MODEL_DIR}/)"
    )


def predict_csv(
    checkpoint: str | Path,
    input_csv: str | Path,
    output_csv: str | Path,
    smiles_column: str = "smiles",
    batch_size: int = 64,
    workers: int = 1,
) -> pd.DataFrame:
    """Write the input rows with canonical_smiles, status, reason and pred_<task> columns; return that table."""
    directory = model_directory(checkpoint)
    task = json.loads((directory / TASK_NAME).read_text())
    if task["task_type"] == "pretrain":
        raise ValueError(f"{directory} is a pretrained encoder without a property head; finetune it first")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = load_pretrained(directory, device=device).eval()
    tokenizer = SmilesTokenizer.load(directory / VOCAB_NAME)
    table = pd.read_csv(input_csv, dtype=str, keep_default_na=False)

    with tempfile.TemporaryDirectory(prefix="mumo-predict-") as tmp:
        report = featurize_csv(input_csv, tmp, smiles_column=smiles_column, workers=workers)
        store = StructureStore(Path(tmp) / "structures.npz")
        embedded = np.flatnonzero((report["outcome"] != "rejected").to_numpy())
        smiles = report["canonical_smiles"].to_numpy()[embedded]
        dataset = MoleculeDataset(smiles, store, tokenizer, task["max_length"])
        values, failures = _predict_all(model, dataset, batch_size, device, len(task["tasks"]))

    status = np.where(report["canonical_smiles"].isna(), "invalid_smiles", "no_structure").astype(object)
    reason = report["reason"].fillna("").astype(str).to_numpy(dtype=object)
    outcome = report["outcome"].to_numpy()[embedded]
    status[embedded] = "ok"
    reason[embedded] = [
        f"{o}: {r}" if r else ("" if o == "mmff" else o)
        for o, r in zip(outcome, reason[embedded], strict=True)
    ]
    for i, why in failures.items():
        status[embedded[i]], reason[embedded[i]] = "failed", why
    predictions = np.full((len(table), len(task["tasks"])), np.nan)
    predictions[embedded] = values
    out = table.assign(canonical_smiles=report["canonical_smiles"].to_numpy(), status=status, reason=reason)
    for t, name in enumerate(task["tasks"]):
        out[f"pred_{name}"] = predictions[:, t]
    with atomic_path(output_csv) as path:
        out.to_csv(path, index=False)
    counts = pd.Series(status).value_counts().to_dict()
    logger.info("%s: %d rows predicted, statuses %s", output_csv, len(out), counts)
    return out


def _predict_all(
    model, dataset: MoleculeDataset, batch_size: int, device: torch.device, num_tasks: int
) -> tuple[np.ndarray, dict[int, str]]:
    """Predictions [n, T] (NaN where failed) and {position: reason} of the molecules that failed.

    A batch that raises is retried molecule by molecule, so one bad molecule costs only its own row.
    """
    values, failures = np.full((len(dataset), num_tasks), np.nan), {}
    for indices in eval_batches(dataset.lengths, batch_size, model.config.eval_in_dataset_order):
        try:
            values[indices] = predict_batch(model, dataset, indices, device)
            continue
        except Exception as error:  # isolate the culprit below
            logger.warning("batch failed (%s); predicting its molecules one by one", error)
        for i in indices:
            try:
                values[[i]] = predict_batch(model, dataset, [i], device)
            except Exception as error:
                failures[i] = f"prediction failed: {type(error).__name__}: {error}"
    for i in np.flatnonzero(~np.isfinite(values).all(axis=1)):
        failures.setdefault(int(i), "non-finite prediction")
    return values, failures
