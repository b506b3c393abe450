"""Conformer-noise robustness: how much a model's test predictions move when its molecules' 3D conformers
come from other conformer settings (other ETKDG seeds, another number of conformers).

A conformer set is one featurisation of the test fold: the run's own (`reference`) or a variant that changes
one setting. Sets of one `varied` family (the reference plus the variants that change the same setting) are
compared: per (molecule, task), the spread is the population standard deviation (ddof = 0) of the model's
predictions over the family's sets, in the prediction's units (probability of class 1, or label units). A
model without the structural prior (sequence only) has a spread of exactly 0.

Kept free of scikit-learn and torch: the steps score the metrics and run the models; this module only reads the
per-molecule table they build (`PER_MOLECULE_KEYS`, then `pred_<set>` and `source_<set>` per set).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

REFERENCE = "reference"
CONFORMER_SEED, NUM_CONFORMERS = "conformer_seed", "num_conformers"  # the families: what a variant changes
FALLBACK = "2d_fallback"  # the conformer source of a molecule with no 3D structure (mumo.chem.conformer)
NO_RECORD = "no_record"  # no structure record at all (RDKit rejected it): no prediction under that set
RUN_KEYS = ["dataset", "split", "model", "seed"]
PER_MOLECULE_KEYS = [*RUN_KEYS, "mol_id", "canonical_smiles", "task", "y_true"]


@dataclass(frozen=True)
class ConformerSet:
    """The conformer settings of one featurisation: the run's own seed and number of conformers, or one of
    them changed (`varied`: REFERENCE, CONFORMER_SEED or NUM_CONFORMERS)."""

    seed: int
    num_conformers: int
    varied: str

    @property
    def name(self) -> str:
        return f"seed{self.seed}-n{self.num_conformers}"


def pred_column(name: str) -> str:
    return f"pred_{name}"


def source_column(name: str) -> str:
    return f"source_{name}"


def families(sets: Sequence[ConformerSet]) -> dict[str, list[ConformerSet]]:
    """Each varied setting with the sets that compare it: the reference and that setting's variants; a family
    without a variant is left out."""
    reference = [s for s in sets if s.varied == REFERENCE]
    if len(reference) != 1:
        raise ValueError(f"expected exactly one reference conformer set, got {[s.name for s in reference]}")
    varied = dict.fromkeys(s.varied for s in sets if s.varied != REFERENCE)
    return {family: reference + [s for s in sets if s.varied == family] for family in varied}


def molecule_spread(molecules: pd.DataFrame, names: Sequence[str]) -> np.ndarray:
    """Per row (molecule, task), the population std (ddof = 0) of its predictions over the sets `names`;
    NaN where a set has no prediction for it (never a spread over fewer sets)."""
    return np.std(molecules[[pred_column(n) for n in names]].to_numpy(float), axis=1, ddof=0)


def fallback_sets(molecules: pd.DataFrame, names: Sequence[str]) -> pd.Series:
    """Per row, the sets (';'-joined, '' for none) under which the molecule had no 3D conformer (2D only)."""
    flags = molecules[[source_column(n) for n in names]].eq(FALLBACK).to_numpy()
    return pd.Series(
        [";".join(n for n, f in zip(names, row, strict=True) if f) for row in flags], index=molecules.index
    )


def run_summary(molecules: pd.DataFrame, scores: pd.Series, family: Sequence[ConformerSet]) -> dict:
    """One run's robustness over one family of sets.

    `molecules`: the run's per-molecule rows; `scores`: its headline metric per set name. Molecules are counted
    once whatever their number of tasks: `n_2d_fallback` (2D only under at least one set of the family, spread
    included), `n_2d_fallback_changed` (under some sets but not all: their 3D prior appears and disappears) and
    `n_unpredicted` (no structure record under some set: no spread, never silently averaged in)."""
    names = [s.name for s in family]
    spread = molecule_spread(molecules, names)
    per_molecule = molecules.assign(
        fallbacks=molecules[[source_column(n) for n in names]].eq(FALLBACK).sum(axis=1),
        missing=molecules[[pred_column(n) for n in names]].isna().any(axis=1),
    ).groupby("mol_id")
    fallbacks = per_molecule["fallbacks"].max()
    values = scores.reindex(names).to_numpy(float)
    finite = values[np.isfinite(values)]
    return {
        "varied": family[-1].varied,
        "n_sets": len(names),
        "sets": ";".join(names),
        "metric_min": finite.min() if len(finite) else np.nan,
        "metric_max": finite.max() if len(finite) else np.nan,
        "metric_range": finite.max() - finite.min() if len(finite) else np.nan,
        "n_metric_finite": len(finite),
        "mean_spread": float(np.nanmean(spread)) if np.isfinite(spread).any() else np.nan,
        "max_spread": float(np.nanmax(spread)) if np.isfinite(spread).any() else np.nan,
        "n_molecules": int(molecules["mol_id"].nunique()),
        "n_spread": int(np.isfinite(spread).sum()),
        "n_unpredicted": int(per_molecule["missing"].any().sum()),
        "n_2d_fallback": int((fallbacks > 0).sum()),
        "n_2d_fallback_changed": int(((fallbacks > 0) & (fallbacks < len(names))).sum()),
    }
