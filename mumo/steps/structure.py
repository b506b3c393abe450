"""Structure steps: one shard of the RDKit structure store, and the outcome counts per dataset."""

from __future__ import annotations

from collections.abc import Sequence

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
    molecules |= dict.fromkeys(sorted(verbatim - molecules.keys()))
    report = build_shard(
        list(molecules),
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
