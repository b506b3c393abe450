"""The predictions file: long-format CSV, one row per (molecule, fold, task), the same for every model.

Columns mol_id, canonical_smiles, fold, task, y_true, y_pred; scoring needs all but canonical_smiles. Kept
apart from scoring so that writing predictions (training jobs) does not import SciPy and scikit-learn.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

PREDICTION_COLUMNS = ["mol_id", "fold", "task", "y_true", "y_pred"]


def long_predictions(
    table: pd.DataFrame, tasks: list[str], rows: dict[str, np.ndarray], predictions: dict[str, np.ndarray]
) -> pd.DataFrame:
    """Long-format predictions from per-fold row indices and [n_rows, T] prediction matrices."""
    parts = []
    for fold, index in rows.items():
        subset = table.iloc[index]
        for t, task in enumerate(tasks):
            parts.append(
                pd.DataFrame(
                    {
                        "mol_id": subset["mol_id"].to_numpy(),
                        "canonical_smiles": subset["canonical_smiles"].to_numpy(),
                        "fold": fold,
                        "task": task,
                        "y_true": subset[task].to_numpy(float),
                        "y_pred": predictions[fold][:, t],
                    }
                )
            )
    return pd.concat(parts, ignore_index=True)
