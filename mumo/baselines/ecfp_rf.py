"""ECFP4 + random forest: the permanent reference row of every table.

ECFP4 is RDKit's Morgan fingerprint with radius 2 folded to 2,048 bits. Multi-task datasets train one forest
per task on the rows labelled for that task, so missing labels are never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rdkit import Chem, DataStructs, rdBase
from rdkit.Chem import rdFingerprintGenerator
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

from mumo.data.registry import CLASSIFICATION

N_BITS, RADIUS = 2048, 2  # ECFP4


def ecfp4(smiles: list[str], n_bits: int = N_BITS, radius: int = RADIUS) -> np.ndarray:
    """uint8 matrix [n, n_bits] of Morgan bits; inputs are standardised SMILES, so each one parses."""
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits)
    out = np.zeros((len(smiles), n_bits), dtype=np.uint8)
    with rdBase.BlockLogs():
        for i, s in enumerate(smiles):
            mol = Chem.MolFromSmiles(s)
            if mol is None:
                raise ValueError(f"row {i}: cannot fingerprint unparseable SMILES {s!r}")
            DataStructs.ConvertToNumpyArray(generator.GetFingerprint(mol), out[i])
    return out


@dataclass
class RandomForestSettings:
    n_estimators: int = 200
    min_samples_leaf: int = 1
    max_features: str | float = "sqrt"
    class_weight: str | None = None


def fit_predict(
    features: np.ndarray,
    labels: np.ndarray,
    train: np.ndarray,
    predict: np.ndarray,
    task_type: str,
    *,
    seed: int,
    settings: RandomForestSettings | None = None,
    threads: int = 1,
) -> np.ndarray:
    """Train on rows `train` and predict rows `predict`, one forest per task column of `labels` [n, T].

    Classification predictions are the probability of class 1 (continuous scores, never thresholded).
    A task whose training labels hold a single class predicts that class's frequency and is reported as such
    by the metrics (undefined AUC), rather than failing the run.
    """
    settings = settings or RandomForestSettings()
    predictions = np.full((len(predict), labels.shape[1]), np.nan)
    for task in range(labels.shape[1]):
        y = labels[train, task]
        labelled = ~np.isnan(y)
        x, y = features[train][labelled], y[labelled]
        if len(y) == 0:
            continue
        common = dict(
            n_estimators=settings.n_estimators,
            min_samples_leaf=settings.min_samples_leaf,
            max_features=settings.max_features,
            n_jobs=threads,
            random_state=seed,
        )
        # Each forest fits in `threads` threads but predicts in one: threads add their trees' outputs in
        # whatever order they finish, which changed the last bits of ESOL's scores between two same-seed runs.
        if task_type == CLASSIFICATION:
            if len(np.unique(y)) < 2:
                predictions[:, task] = float(y[0])
                continue
            forest = RandomForestClassifier(class_weight=settings.class_weight, **common).fit(
                x, y.astype(int)
            )
            forest.set_params(n_jobs=1)
            predictions[:, task] = forest.predict_proba(features[predict])[:, list(forest.classes_).index(1)]
        else:
            forest = RandomForestRegressor(**common).fit(x, y)
            forest.set_params(n_jobs=1)
            predictions[:, task] = forest.predict(features[predict])
    return predictions
