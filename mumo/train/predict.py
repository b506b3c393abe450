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
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from rdkit import rdBase

from mumo.chem.conformer import ConformerConfig
from mumo.chem.store import StructureStore, build_shard, read_smiles_table
from mumo.chem.tokenizer import SmilesTokenizer, split_smiles
from mumo.data.standardise import canonicalise
from mumo.io import write_csv
from mumo.model import load_pretrained
from mumo.model.checkpoint import CONFIG_NAME
from mumo.model.config import MuMoConfig
from mumo.train.data import MoleculeDataset, eval_batches
from mumo.train.recipes import (
    FEATURIZATION_NAME,
    MODEL_DIR,
    TASK_NAME,
    VOCAB_NAME,
    featurization,
    predict_batch,
)

logger = logging.getLogger(__name__)

STATUSES = ("ok", "truncated", "unknown_tokens", "invalid_smiles", "no_structure", "failed")


def model_directory(checkpoint: str | Path) -> Path:
    """The model directory itself, or a run directory holding `model/`."""
    path = Path(checkpoint)
    for candidate in (path, path / MODEL_DIR):
        if (candidate / CONFIG_NAME).exists() and (candidate / TASK_NAME).exists():
            return candidate
    raise FileNotFoundError(
        f"{checkpoint}: no trained model (expected {CONFIG_NAME} and {TASK_NAME} in it or in {MODEL_DIR}/)"
    )


def load_featurization(directory: Path) -> tuple[str, ConformerConfig]:
    """The fragment policy and conformer settings the model was trained with (defaults, with a warning, if unknown)."""
    path = directory / FEATURIZATION_NAME
    if path.exists():
        recorded = json.loads(path.read_text())
    else:
        logger.warning(
            "%s: no %s (trained before mumo recorded it): assuming the largest fragment and default conformer "
            "settings, which may differ from its training",
            directory,
            FEATURIZATION_NAME,
        )
        recorded = featurization()
    return recorded["fragments"], ConformerConfig(**recorded["conformer"])


def token_problem(tokenizer: SmilesTokenizer, smiles: str, max_length: int) -> tuple[str, str]:
    """(status, reason) if the model cannot read `smiles` whole: cut at max_length, or [UNK]; else ("", "")."""
    tokens, dropped = split_smiles(smiles)
    unknown = sorted({t for t in tokens if t not in tokenizer.ids} | set(dropped))
    problems = []
    if len(tokens) + 2 > max_length:
        problems.append(
            ("truncated", f"{len(tokens)} tokens cut to max_length {max_length} (with [CLS]/[SEP])")
        )
    if unknown:
        problems.append(
            ("unknown_tokens", f"not in the model's vocabulary, read as [UNK]: {' '.join(unknown)}")
        )
    return (problems[0][0], "; ".join(why for _, why in problems)) if problems else ("", "")


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
    fragments, conformer = load_featurization(directory)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = load_pretrained(directory, device=device).eval()
    tokenizer = SmilesTokenizer.load(directory / VOCAB_NAME)
    table = read_smiles_table(input_csv, smiles_column)

    with rdBase.BlockLogs():  # the reasons go to the output, not to stderr
        standardised = [canonicalise(smiles, fragments) for smiles in table[smiles_column]]
    keys = np.array([key for key, _ in standardised], dtype=object)
    status = np.where(pd.isna(keys), "invalid_smiles", "no_structure").astype(object)
    reason = np.array([why for _, why in standardised], dtype=object)
    reason[table.eq("").all(axis=1).to_numpy()] = "blank line"
    valid = np.flatnonzero(~pd.isna(keys))

    with tempfile.TemporaryDirectory(prefix="mumo-predict-") as tmp:
        report = build_shard(keys[valid].tolist(), Path(tmp) / "structures.npz", conformer, workers)
        store = StructureStore(Path(tmp) / "structures.npz")
        embedded = np.flatnonzero((report["outcome"] != "rejected").to_numpy())
        smiles = report["canonical_smiles"].to_numpy()[embedded]
        dataset = MoleculeDataset(smiles, store, tokenizer, task["max_length"])
        values, failures = _predict_all(model, dataset, batch_size, device, len(task["tasks"]))
        batch_dependent = {i for i, s in enumerate(smiles) if _skipped_steps(model.config, store[s])}

    reason[valid] = report["reason"].fillna("").astype(str).to_numpy(dtype=object)
    rows = valid[embedded]
    for i, (row, outcome, smi) in enumerate(
        zip(rows, report["outcome"].to_numpy()[embedded], smiles, strict=True)
    ):
        conformer_note = (
            f"{outcome}: {reason[row]}" if reason[row] else ("" if outcome == "mmff" else outcome)
        )
        problem, why = token_problem(tokenizer, smi, task["max_length"])
        status[row] = problem or "ok"
        quirk_note = "depends on its batch (model with the paper quirk skip_edgeless_graph_steps)"
        notes = (why, conformer_note, quirk_note if i in batch_dependent else "")
        reason[row] = "; ".join(part for part in notes if part)
        if i in failures:
            status[row], reason[row] = "failed", failures[i]
    predictions = np.full((len(table), len(task["tasks"])), np.nan)
    predictions[rows] = values
    out = table.assign(canonical_smiles=keys, status=status, reason=reason)
    for t, name in enumerate(task["tasks"]):
        out[f"pred_{name}"] = predictions[:, t]
    write_csv(out, output_csv)
    counts = pd.Series(status).value_counts().to_dict()
    logger.info("%s: %d rows predicted, statuses %s", output_csv, len(out), counts)
    return out


def _skipped_steps(config: MuMoConfig, record: dict) -> bool:
    """Whether the model's `skip_edgeless_graph_steps` quirk makes this molecule's encoding batch-dependent."""
    if not (config.skip_edgeless_graph_steps and config.use_graph):
        return False
    views = ("", "frag_") if config.use_fragments else ("",)
    kinds = ("edge_index", "ba_edge_index") if config.use_geometry else ("edge_index",)
    return any(record[view + kind].shape[1] == 0 for view in views for kind in kinds)


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
