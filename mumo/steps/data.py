"""Data steps: download, standardise, split, the pretraining corpus and the SMILES vocabulary."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from mumo.chem.tokenizer import SmilesTokenizer
from mumo.data.download import Transfer, fetch
from mumo.data.hub import HubSource, read_authors
from mumo.data.registry import Upstream
from mumo.data.sources import ResolvedDataset, load_raw
from mumo.data.splits import FOLDS, NEEDED_FOLDS, make_split
from mumo.data.standardise import Standardised, standardise
from mumo.io import write_csv, write_json

log = logging.getLogger(__name__)

HUB_REPORT_COLUMNS = ("hub_repo", "hub_config", "hub_revision")  # text columns of the authors' tables


class EmptyDataError(ValueError):
    """A dataset or one of its folds has no rows: stop at the step that finds out, naming dataset and fold."""


def download(upstream: Upstream, out_path: str, mirror: str | None, retries: int) -> None:
    path = Path(out_path)
    fetch(
        upstream.url,
        path.name,
        path.parent,
        upstream.sha256,
        columns=upstream.header,
        transfer=Transfer(mirror=mirror, retries=retries),
    )


def fetch_raw(dataset: ResolvedDataset, out_csv: str, download_dir: str, mirror: str | None = None) -> None:
    frame = load_raw(dataset, download_dir, mirror)
    log.info("%s: %d raw rows from %s source", dataset.spec.name, len(frame), dataset.source)
    write_csv(frame, out_csv)


def fetch_authors(
    dataset: ResolvedDataset, hub: HubSource, download_dir: str, out_csv: str, out_json: str
) -> None:
    """The authors' rows of a dataset (split `authors`) and, beside them, where they came from."""
    frame, provenance = read_authors(dataset.spec, list(dataset.tasks), hub, download_dir)
    log.info("%s: %d rows of the authors' files %s", dataset.spec.name, len(frame), provenance["rows"])
    write_csv(frame, out_csv)
    write_json(provenance, out_json)


def standardise_file(
    raw_csv: str,
    dataset: ResolvedDataset,
    fragments: str,
    *,
    out_csv: str,
    rejected_csv: str,
    counts_json: str,
    provenance_json: str | None = None,
) -> Standardised:
    """Standardise a raw table. With `provenance_json` (the authors' files) rows are kept as given, duplicates
    only counted, and the counts name the hub revision the rows came from."""
    raw = pd.read_csv(raw_csv, dtype={"smiles": "string"}, keep_default_na=False, na_values=[""])
    authors = provenance_json is not None
    name = f"{dataset.spec.name}.authors" if authors else dataset.spec.name
    result = standardise(
        raw,
        list(dataset.tasks),
        dataset.spec.task_type,
        name,
        fragments=fragments,
        merge_duplicates=not authors,
    )
    log.info("%s: %s", name, result.report())
    write_csv(result.table, out_csv)
    write_csv(result.rejected, rejected_csv)
    source = {"source": dataset.source}
    if authors:
        provenance = json.loads(Path(provenance_json).read_text())
        source = {"source": "authors"} | {k: provenance[k] for k in HUB_REPORT_COLUMNS}
    write_json({"dataset": dataset.spec.name, **source, **result.report()}, counts_json)
    if result.table.empty:
        for row in result.rejected.itertuples(index=False):  # the job's log survives a failed job's outputs
            log.error("row %s %r rejected: %s", row.row, row.smiles, row.reason)
        raise EmptyDataError(
            f"dataset {name!r}: no usable rows after standardisation ({result.counts['raw']} raw rows "
            f"rejected: {result.reasons_text()}); each row and its reason is in this step's log"
        )
    return result


def split_file(
    standardised_csv: str, split: str, seed: int, fractions: list[float], out_json: str, *, dataset: str
) -> None:
    """Write the split; a fold that should hold molecules (a fraction > 0, or train and test, which training
    needs) but came out empty stops the run here, not in training or aggregation. Valid may be empty."""
    table = pd.read_csv(standardised_csv)
    folds = make_split(table, split, seed, fractions)
    sizes = {fold: len(folds[fold]) for fold in FOLDS}
    wanted = dict(zip(FOLDS, fractions, strict=True)) if split != "tdc" else dict.fromkeys(FOLDS, 1)
    for fold in FOLDS:
        if sizes[fold] == 0 and (wanted[fold] > 0 or fold in NEEDED_FOLDS):
            raise EmptyDataError(
                f"dataset {dataset!r}, split {split} seed {seed}: fold {fold!r} is empty "
                f"({len(table)} molecules, fractions {list(fractions)}); use a larger dataset or other fractions"
            )
    log.info("%s seed %d: %s", split, seed, sizes)
    write_json({"split": split, "seed": seed, "fractions": fractions, "sizes": sizes, **folds}, out_json)


def data_report(count_files: list[str], out_csv: str) -> None:
    rows = [json.loads(Path(p).read_text()) for p in count_files]
    frame = pd.DataFrame(rows)
    count_columns = [c for c in frame.columns if c not in ("dataset", "source", *HUB_REPORT_COLUMNS)]
    frame[count_columns] = frame[count_columns].fillna(0).astype(int)
    write_csv(frame, out_csv)


def pretrain_corpus(
    corpus: ResolvedDataset,
    options: dict,
    dataset_tables: list[str],
    *,
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


def build_vocab(tables: list[str], out_json: str, raw_tables: Sequence[str] = ()) -> None:
    """The SMILES vocabulary over the corpus and every dataset (label-free, so no leakage of targets), and the
    `smiles` as given of `raw_tables` (the tables a model with `tokens_from_raw_smiles` reads)."""
    columns = [(path, "canonical_smiles") for path in tables] + [(path, "smiles") for path in raw_tables]
    smiles = [
        s
        for path, column in columns
        for s in pd.read_csv(path, usecols=[column], dtype={column: "string"}, keep_default_na=False)[column]
    ]
    tokenizer = SmilesTokenizer.build(smiles)
    log.info(
        "vocabulary of %d tokens from %d SMILES (hash %s)", len(tokenizer), len(smiles), tokenizer.vocab_hash
    )
    tokenizer.save(out_json)
