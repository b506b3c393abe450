"""Batch inference of a MuMo model on a `MoleculeDataset`: what the finetune recipe scores its folds with and
what `mumo predict` (mumo.apps.predict_csv) runs each model of an ensemble through.

A batch that raises is retried molecule by molecule (`predict_isolating_failures`), so one bad molecule costs
only its own row; `token_problem` says when the model could not read a SMILES whole.
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from mumo.chem.tokenizer import SmilesTokenizer, split_smiles
from mumo.model import MuMo
from mumo.model.config import MuMoConfig
from mumo.model.precision import autocast
from mumo.train.data import MoleculeDataset, eval_batches

logger = logging.getLogger(__name__)


@torch.no_grad()
def predict_batch(
    model: MuMo, dataset: MoleculeDataset, indices: list[int], device: torch.device, precision: str = "fp32"
) -> np.ndarray:
    """Predictions [len(indices), outputs]: P(class 1), per-task probabilities, or original units."""
    model.eval()
    with autocast(precision, device):
        values = model.predict(dataset.batch(indices).to(device))
    return values.float().cpu().numpy().reshape(len(indices), -1)


def predict_dataset(
    model: MuMo, dataset: MoleculeDataset, batch_size: int, device: torch.device, precision: str = "fp32"
) -> np.ndarray:
    """Predictions for the whole dataset, in dataset order (batched by length, or as the model's quirk says)."""
    batches = eval_batches(dataset.lengths, batch_size, model.config.eval_in_dataset_order)
    values = [predict_batch(model, dataset, indices, device, precision) for indices in batches]
    out = np.empty((len(dataset), values[0].shape[1]))
    out[np.concatenate(batches)] = np.concatenate(values)
    return out


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


def batch_dependent(config: MuMoConfig, record: dict) -> bool:
    """Whether the model's `skip_edgeless_graph_steps` quirk makes this molecule's encoding batch-dependent."""
    if not (config.skip_edgeless_graph_steps and config.use_graph):
        return False
    views = ("", "frag_") if config.use_fragments else ("",)
    kinds = ("edge_index", "ba_edge_index") if config.use_geometry else ("edge_index",)
    return any(record[view + kind].shape[1] == 0 for view in views for kind in kinds)


def predict_isolating_failures(
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
