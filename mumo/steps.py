"""One function per pipeline step, file in → file out, every output written atomically.

The Snakemake scripts in workflow/scripts/ only unpack the `snakemake` object and call these, so every step
can be run and tested without Snakemake.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from mumo.baselines import ecfp_rf
from mumo.chem.conformer import ConformerConfig
from mumo.chem.store import build_shard, shard_index, summarize_outcomes
from mumo.chem.tokenizer import SmilesTokenizer
from mumo.data.download import fetch
from mumo.data.registry import Upstream
from mumo.data.sources import ResolvedDataset, load_raw
from mumo.data.splits import FOLDS, make_split
from mumo.data.standardise import standardise
from mumo.eval.aggregate import aggregate, run_scores
from mumo.eval.evaluate import long_predictions, score_predictions
from mumo.eval.figures import TABLE_FIGURES, learning_curves
from mumo.io import atomic_path, write_text_atomic

log = logging.getLogger(__name__)


def write_csv(frame: pd.DataFrame, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def write_json(data: dict, path: str | Path) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, default=_json_default) + "\n")


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value)}")


def download(upstream: Upstream, out_path: str, mirror: str | None, retries: int) -> None:
    path = Path(out_path)
    fetch(upstream.url, path.name, path.parent, upstream.sha256, mirror=mirror, retries=retries)


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


def split_file(standardised_csv: str, split: str, seed: int, fractions: list[float], out_json: str) -> None:
    table = pd.read_csv(standardised_csv)
    folds = make_split(table, split, seed, fractions)
    sizes = {fold: len(folds[fold]) for fold in FOLDS}
    log.info("%s seed %d: %s", split, seed, sizes)
    write_json({"split": split, "seed": seed, "fractions": fractions, "sizes": sizes, **folds}, out_json)


def structure_shard(
    standardised_csvs: list[str],
    shard: int,
    n_shards: int,
    conformer: dict,
    workers: int,
    out_npz: str,
    out_report: str,
    cache_dir: str,
) -> None:
    """Featurise this shard's share of every molecule of every dataset, each molecule once."""
    molecules = dict.fromkeys(
        smiles
        for path in standardised_csvs
        for smiles in pd.read_csv(path, usecols=["canonical_smiles"])["canonical_smiles"]
        if shard_index(smiles, n_shards) == shard
    )
    report = build_shard(list(molecules), out_npz, ConformerConfig(**conformer), workers, cache_dir)
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


def ecfp_file(standardised_csv: str, out_npy: str, n_bits: int, radius: int) -> None:
    table = pd.read_csv(standardised_csv)
    bits = ecfp_rf.ecfp4(table["canonical_smiles"].tolist(), n_bits=n_bits, radius=radius)
    with atomic_path(out_npy) as tmp:
        with open(tmp, "wb") as handle:
            np.save(handle, np.packbits(bits, axis=1), allow_pickle=False)


def train_ecfp_rf(
    standardised_csv: str,
    split_json: str,
    features_npy: str,
    dataset: ResolvedDataset,
    seed: int,
    settings: dict,
    threads: int,
    out_predictions: str,
) -> None:
    table = pd.read_csv(standardised_csv)
    folds = json.loads(Path(split_json).read_text())
    features = np.unpackbits(np.load(features_npy), axis=1)
    tasks = list(dataset.tasks)
    labels = table[tasks].to_numpy(float)
    forest = ecfp_rf.RandomForestSettings(**settings)
    rows = {fold: np.asarray(folds[fold], dtype=int) for fold in ("valid", "test")}
    start = time.perf_counter()
    predictions = {
        fold: ecfp_rf.fit_predict(
            features,
            labels,
            np.asarray(folds["train"], dtype=int),
            index,
            dataset.spec.task_type,
            seed,
            forest,
            threads,
        )
        for fold, index in rows.items()
    }
    log.info("ECFP+RF trained and predicted in %.1f s", time.perf_counter() - start)
    write_csv(long_predictions(table, tasks, rows, predictions), out_predictions)


def evaluate_run(
    predictions_csv: str, split_json: str, dataset: ResolvedDataset, run: dict, out_json: str
) -> None:
    predictions = pd.read_csv(predictions_csv)
    folds = json.loads(Path(split_json).read_text())
    scores = score_predictions(predictions, list(dataset.spec.metrics))
    record = {
        **run,
        "benchmark": dataset.spec.benchmark,
        "task_type": dataset.spec.task_type,
        **{f"n_{fold}": len(folds[fold]) for fold in FOLDS},
        "scores": scores.to_dict(orient="records"),
    }
    write_json(record, out_json)


def aggregate_table(metric_files: list[str], out_csv: str) -> None:
    write_csv(aggregate(run_scores(metric_files)), out_csv)


def data_report(count_files: list[str], out_csv: str) -> None:
    rows = [json.loads(Path(p).read_text()) for p in count_files]
    frame = pd.DataFrame(rows).fillna(0)
    count_columns = [c for c in frame.columns if c not in ("dataset", "source")]
    frame[count_columns] = frame[count_columns].astype(int)
    write_csv(frame, out_csv)


def figures(table_csv: str, headline: dict[str, str], stem: str, figure: str = "metrics") -> None:
    """A figure drawn from the table: `metrics`, `comparison` (ours vs published) or `ablations`."""
    TABLE_FIGURES[figure](pd.read_csv(table_csv), headline, stem)


def pretrain_curves(metrics_csvs: list[str], stem: str) -> None:
    """One panel per pretrained model, from results/pretrain/{model}/metrics.csv."""
    curves = {Path(p).parent.name: {Path(p).parent.name: p} for p in metrics_csvs}
    learning_curves(curves, stem, "Pretraining (masked-token loss)")


def finetune_curves(metrics_csvs: list[str], stem: str) -> None:
    """One panel per dataset and split, one line per model and seed, from each finetuning run's `metrics.csv`
    (runs/{model}/{dataset}/{split}/seed{seed}/)."""
    curves: dict[str, dict[str, Path]] = {}
    for path in map(Path, metrics_csvs):
        model, dataset, split, seed = path.parts[-5:-1]
        curves.setdefault(f"{dataset} {split}", {})[f"{model} {seed}"] = path
    learning_curves(curves, stem, "Finetuning (supervised loss)")
