"""Structure steps: one shard of the RDKit structure store, the test folds under another conformer setting
(mumo.steps.robustness), and the outcome counts per dataset."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from mumo.chem.conformer import ConformerConfig
from mumo.chem.store import build_shard, shard_index, summarize_outcomes
from mumo.io import write_csv


def structure_shard(
    standardised_csvs: list[str],
    sharding: tuple[int, int],
    conformer: dict,
    workers: int,
    *,
    out_npz: str,
    out_report: str,
    cache_dir: str,
    raw_csvs: Sequence[str] = (),
) -> None:
    """Featurise this shard's share of every molecule of every dataset, each molecule once; and of the
    `smiles` as given of `raw_csvs` (for models with `tokens_from_raw_smiles`), each keyed by its own string.
    `sharding` is (this shard, number of shards), as Plan.structure_sharding gives it."""
    shard, n_shards = sharding
    molecules = dict.fromkeys(
        smiles
        for path in standardised_csvs
        for smiles in pd.read_csv(path, usecols=["canonical_smiles"])["canonical_smiles"]
        if shard_index(smiles, n_shards) == shard
    )
    verbatim = {
        smiles
        for path in raw_csvs
        for smiles in pd.read_csv(path, usecols=["smiles"], dtype={"smiles": "string"})["smiles"].dropna()
        if shard_index(smiles, n_shards) == shard
    }
    _featurise(
        list(molecules),
        verbatim,
        conformer,
        workers,
        out_npz=out_npz,
        out_report=out_report,
        cache_dir=cache_dir,
    )


def robustness_structures(
    test_folds: dict[str, list[str]],
    conformer: dict,
    workers: int,
    *,
    out_npz: str,
    out_report: str,
    cache_dir: str,
    raw_csvs: Sequence[str] = (),
) -> None:
    """The molecules of the test folds of `test_folds` (standardised table -> split files) under one conformer
    setting, for the robustness stage: one file for every table, each molecule once; the test rows' `smiles` as
    given too for the tables in `raw_csvs` (as structure_shard)."""
    molecules: dict[str, None] = {}
    verbatim: set[str] = set()
    for table, split_files in test_folds.items():
        rows = sorted({row for path in split_files for row in json.loads(Path(path).read_text())["test"]})
        columns = ["canonical_smiles", "smiles"] if table in raw_csvs else ["canonical_smiles"]
        frame = pd.read_csv(table, usecols=columns, dtype="string").iloc[rows]
        molecules |= dict.fromkeys(frame["canonical_smiles"])
        if table in raw_csvs:
            verbatim |= set(frame["smiles"].dropna())
    _featurise(
        list(molecules),
        verbatim,
        conformer,
        workers,
        out_npz=out_npz,
        out_report=out_report,
        cache_dir=cache_dir,
    )


def _featurise(
    molecules: list[str],
    verbatim: set[str],
    conformer: dict,
    workers: int,
    *,
    out_npz: str,
    out_report: str,
    cache_dir: str,
) -> None:
    """Build one store file of the molecules and the verbatim strings not among them, and its outcome report."""
    molecules = molecules + sorted(verbatim - set(molecules))
    report = build_shard(
        molecules,
        out_npz,
        ConformerConfig.from_dict(conformer, "structure.conformer"),
        workers,
        cache_dir=cache_dir,
        verbatim=verbatim,
    )
    write_csv(report, out_report)


def structure_report(standardised: dict[str, str], shard_reports: list[str], out_csv: str) -> None:
    """Outcome counts per dataset: every molecule of each standardised table looked up in the shard reports."""
    outcomes = pd.concat([pd.read_csv(p, keep_default_na=False) for p in shard_reports], ignore_index=True)
    # Keyed by the SMILES each shard was given (our standardised canonical SMILES): RDKit's canonical form is
    # not idempotent for every molecule, so the store's own key may differ.
    outcomes = outcomes.drop_duplicates("smiles").set_index("smiles")
    per_dataset = []
    for dataset, path in standardised.items():
        molecules = pd.read_csv(path, usecols=["canonical_smiles"]).drop_duplicates()
        missing = ~molecules["canonical_smiles"].isin(outcomes.index)
        if missing.any():
            raise ValueError(f"{dataset}: {int(missing.sum())} molecules have no structure outcome")
        per_dataset.append(outcomes.loc[molecules["canonical_smiles"]].reset_index().assign(dataset=dataset))
    write_csv(summarize_outcomes(pd.concat(per_dataset, ignore_index=True), by="dataset"), out_csv)
