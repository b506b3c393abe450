"""Data steps: download, standardise, split, the pretraining corpus and the SMILES vocabulary."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd

from mumo.chem.tokenizer import SmilesTokenizer
from mumo.data.download import fetch
from mumo.data.registry import Upstream
from mumo.data.sources import ResolvedDataset, load_raw
from mumo.data.splits import FOLDS, make_split
from mumo.data.standardise import standardise
from mumo.io import write_csv, write_json

log = logging.getLogger(__name__)


class EmptyDataError(ValueError):
    """A dataset or one of its folds has no rows: stop at the step that finds out, naming dataset and fold."""


def download(upstream: Upstream, out_path: str, mirror: str | None, retries: int) -> None:
    path = Path(out_path)
    fetch(
        upstream.url,
        path.name,
        path.parent,
        upstream.sha256,
        mirror=mirror,
        retries=retries,
        columns=upstream.header,
    )


def fetch_raw(dataset: ResolvedDataset, out_csv: str, download_dir: str, mirror: str | None = None) -> None:
    frame = load_raw(dataset, download_dir, mirror)
    log.info("%s: %d raw rows from %s source", dataset.spec.name, len(frame), dataset.source)
    write_csv(frame, out_csv)


def standardise_file(
    raw_csv: str, dataset: ResolvedDataset, fragments: str, out_csv: str, rejected_csv: str, counts_json: str
) -> None:
    raw = pd.read_csv(raw_csv, dtype={"smiles": "string"}, keep_default_na=False, na_values=[""])
    result = standardise(raw, list(dataset.tasks), dataset.spec.task_type, dataset.spec.name, fragments)
    log.info("%s: %s", dataset.spec.name, result.counts)
    write_csv(result.table, out_csv)
    write_csv(result.rejected, rejected_csv)
    write_json({"dataset": dataset.spec.name, "source": dataset.source, **result.counts}, counts_json)
    if result.table.empty:
        for row in result.rejected.itertuples(index=False):  # the job's log survives a failed job's outputs
            log.error("row %s %r rejected: %s", row.row, row.smiles, row.reason)
        why = ", ".join(f"{n} {k.removeprefix('rejected: ')}" for k, n in result.counts.items() if ": " in k)
        raise EmptyDataError(
            f"dataset {dataset.spec.name!r}: no usable rows after standardisation "
            f"({result.counts['raw']} raw rows rejected: {why}); each row and its reason is in this step's log"
        )


def split_file(
    standardised_csv: str, split: str, seed: int, fractions: list[float], out_json: str, *, dataset: str
) -> None:
    """Write the split; a fold that should hold molecules but came out empty stops the run here, not in
    aggregation where the fold would be missing without a word."""
    table = pd.read_csv(standardised_csv)
    folds = make_split(table, split, seed, fractions)
    sizes = {fold: len(folds[fold]) for fold in FOLDS}
    wanted = dict(zip(FOLDS, fractions, strict=True)) if split != "tdc" else dict.fromkeys(FOLDS, 1)
    for fold in FOLDS:
        if sizes[fold] == 0 and wanted[fold] > 0:
            raise EmptyDataError(
                f"dataset {dataset!r}, split {split} seed {seed}: fold {fold!r} is empty "
                f"({len(table)} molecules, fractions {list(fractions)}); use a larger dataset or other fractions"
            )
    log.info("%s seed %d: %s", split, seed, sizes)
    write_json({"split": split, "seed": seed, "fractions": fractions, "sizes": sizes, **folds}, out_json)


def data_report(count_files: list[str], out_csv: str) -> None:
    rows = [json.loads(Path(p).read_text()) for p in count_files]
    frame = pd.DataFrame(rows).fillna(0)
    count_columns = [c for c in frame.columns if c not in ("dataset", "source")]
    frame[count_columns] = frame[count_columns].astype(int)
    write_csv(frame, out_csv)


def pretrain_corpus(
    corpus: ResolvedDataset,
    options: dict,
    dataset_tables: list[str],
    download_dir: str,
    mirror: str | None,
    out_csv: str,
    rejected_csv: str,
) -> None:
    """A seeded sample of the corpus, standardised; molecules of the benchmark datasets are left out (and
    listed) when `exclude_dataset_molecules` is on, so pretraining never sees a test molecule."""
    raw = load_raw(corpus, download_dir, mirror)
    n = options["n_molecules"]
    sample = raw.sample(n=min(n, len(raw)), random_state=options["seed"]) if n else raw
    result = standardise(sample.reset_index(drop=True), [], "regression", corpus.spec.name)
    table, rejected = result.table, result.rejected
    if options["exclude_dataset_molecules"]:
        seen = {
            s
            for path in dataset_tables
            for s in pd.read_csv(path, usecols=["canonical_smiles"])["canonical_smiles"]
        }
        overlap = table["canonical_smiles"].isin(seen)
        rejected = pd.concat(
            [rejected, table.loc[overlap, ["row", "smiles"]].assign(reason="in a benchmark dataset")],
            ignore_index=True,
        )
        table = table.loc[~overlap]
    log.info(
        "corpus %s: %d sampled, %d kept, %d left out",
        corpus.spec.name,
        len(sample),
        len(table),
        len(rejected),
    )
    write_csv(table[["mol_id", "canonical_smiles"]], out_csv)
    write_csv(rejected, rejected_csv)


def build_vocab(tables: list[str], out_json: str) -> None:
    """The SMILES vocabulary over the corpus and every dataset (label-free, so no leakage of targets)."""
    smiles = [
        s for path in tables for s in pd.read_csv(path, usecols=["canonical_smiles"])["canonical_smiles"]
    ]
    tokenizer = SmilesTokenizer.build(smiles)
    log.info(
        "vocabulary of %d tokens from %d SMILES (hash %s)", len(tokenizer), len(smiles), tokenizer.vocab_hash
    )
    tokenizer.save(out_json)
