import json
from pathlib import Path

import pandas as pd
import pytest
from helpers import REPO

from mumo.chem.tokenizer import SmilesTokenizer
from mumo.data.download import DownloadError
from mumo.data.hub import HubSource
from mumo.data.registry import Upstream
from mumo.data.sources import resolve
from mumo.steps.data import (
    EmptyDataError,
    build_vocab,
    data_report,
    download,
    fetch_authors,
    fetch_raw,
    pretrain_corpus,
    split_file,
    standardise_file,
)

HUB_MIRROR = (
    REPO / "tests" / "data" / "hub"
)  # the authors' split files of two datasets, as the hub serves them


def _custom(tmp_path, smiles, labels):
    path = tmp_path / "assay.csv"
    pd.DataFrame({"smiles": smiles, "active": labels}).to_csv(path, index=False)
    options = {"path": str(path), "label_columns": ["active"], "task_type": "classification"}
    return path, resolve("my_assay", options)


def _standardise(tmp_path, raw, dataset):
    out = {k: str(tmp_path / f"out.{k}") for k in ("csv", "rejected.csv", "counts.json")}
    standardise_file(
        str(raw),
        dataset,
        "largest",
        out_csv=out["csv"],
        rejected_csv=out["rejected.csv"],
        counts_json=out["counts.json"],
    )
    return out


@pytest.mark.parametrize(
    ("smiles", "labels", "reason"),
    [
        (["C1CC", "xyz"], [1, 0], r"2 raw rows rejected: 2 SMILES Parse Error"),
        (["CCO", "CCN"], [None, None], r"2 raw rows rejected: 2 no label"),
    ],
)
def test_a_dataset_without_usable_rows_stops_at_standardise_naming_it(
    tmp_path, caplog, smiles, labels, reason
):
    raw, dataset = _custom(tmp_path, smiles, labels)
    with pytest.raises(EmptyDataError, match=rf"dataset 'my_assay': no usable rows.*{reason}"):
        _standardise(tmp_path, raw, dataset)
    assert f"row 1 '{smiles[1]}' rejected" in caplog.text  # the log outlives the failed job's outputs


def test_a_split_with_an_empty_fold_stops_naming_dataset_split_and_fold(tmp_path):
    raw, dataset = _custom(tmp_path, ["CCO", "CCN", "CCC"], [1, 0, 1])
    table = _standardise(tmp_path, raw, dataset)["csv"]
    out = tmp_path / "split.json"
    with pytest.raises(
        EmptyDataError, match=r"dataset 'my_assay', split random seed 0: fold 'valid' is empty"
    ):
        split_file(table, "random", 0, [0.5, 0.2, 0.3], str(out), dataset="my_assay")
    assert not out.exists()
    # a fold asked to be empty (fraction 0) is not an error
    split_file(table, "random", 0, [0.6, 0.0, 0.4], str(out), dataset="my_assay")
    assert json.loads(out.read_text())["sizes"] == {"train": 1, "valid": 0, "test": 2}


@pytest.mark.parametrize("fractions", [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
def test_a_split_without_train_or_test_molecules_stops_even_when_asked_for(tmp_path, fractions):
    """`mumo train --split-fractions 1 0 0` used to crash in training (reshape of an empty fold)."""
    raw, dataset = _custom(tmp_path, ["CCO", "CCN", "CCC"], [1, 0, 1])
    table = _standardise(tmp_path, raw, dataset)["csv"]
    fold = "test" if fractions[0] else "train"
    with pytest.raises(EmptyDataError, match=rf"split random seed 0: fold '{fold}' is empty"):
        split_file(table, "random", 0, fractions, str(tmp_path / "split.json"), dataset="my_assay")


def _counts(path):
    return json.loads(Path(path).read_text())


def test_fetch_raw_then_standardise_keep_every_row_or_its_reason(tmp_path, assay):
    raw_in, dataset = assay
    fetch_raw(dataset=dataset, out_csv=str(tmp_path / "raw.csv"), download_dir=str(tmp_path / "dl"))
    raw = pd.read_csv(tmp_path / "raw.csv")
    assert raw.columns.tolist() == ["smiles", "active"] and len(raw) == len(pd.read_csv(raw_in)) == 11
    out = _standardise(tmp_path, tmp_path / "raw.csv", dataset)
    table, rejected = pd.read_csv(out["csv"]), pd.read_csv(out["rejected.csv"])
    assert table.columns.tolist() == ["mol_id", "row", "smiles", "canonical_smiles", "active"]
    assert table["row"].tolist() == [0, 1, 2, 3, 4, 5, 9, 10]
    assert table.loc[table["row"] == 3, "canonical_smiles"].item() == "Oc1ccccc1"
    assert rejected["row"].tolist() == [6, 7, 8]
    assert rejected["reason"].str.split(":").str[0].tolist() == [
        "SMILES Parse Error",
        "duplicate of row 0 (merged)",
        "no label",
    ]
    assert _counts(out["counts.json"]) == {
        "dataset": "my_assay",
        "source": "custom",
        "raw": 11,
        "kept": 8,
        "rejected": 3,
        "rejected: SMILES Parse Error": 1,
        "rejected: duplicate": 1,
        "rejected: no label": 1,
    }


def test_the_authors_rows_are_kept_as_given_and_named_by_their_hub_revision(tmp_path):
    esol = resolve("esol")
    raw, provenance = tmp_path / "esol.authors.raw.csv", tmp_path / "esol.authors.json"
    fetch_authors(
        dataset=esol,
        hub=HubSource(mirror=str(HUB_MIRROR), revision="abc123"),
        download_dir=str(tmp_path / "downloads"),
        out_csv=str(raw),
        out_json=str(provenance),
    )
    rows = pd.read_csv(raw)
    assert rows.columns.tolist() == ["smiles", "logS", "authors_set"]
    assert rows["authors_set"].value_counts().to_dict() == {"train": 30, "valid": 5, "test": 5}
    assert json.loads(provenance.read_text())["hub_config"] == "delaney"
    out = {k: str(tmp_path / f"out.{k}") for k in ("csv", "rejected.csv", "counts.json")}
    standardise_file(
        raw_csv=str(raw),
        dataset=esol,
        fragments="largest",
        out_csv=out["csv"],
        rejected_csv=out["rejected.csv"],
        counts_json=out["counts.json"],
        provenance_json=str(provenance),
    )
    counts = _counts(out["counts.json"])
    assert {k: counts[k] for k in ("dataset", "source", "hub_config", "hub_revision", "raw")} == {
        "dataset": "esol",
        "source": "authors",
        "hub_config": "delaney",
        "hub_revision": "abc123",
        "raw": 40,
    }
    table, rejected = pd.read_csv(out["csv"]), pd.read_csv(out["rejected.csv"])
    assert len(table) + len(rejected) == 40 and counts["kept"] == len(table)  # duplicates kept, not merged


def test_download_fetches_the_upstream_file_and_refuses_a_changed_one(tmp_path, loopback):
    body = "smiles,y\nCCO,1\n"
    (loopback.root / "data.csv").write_text(body)
    upstream = Upstream(url=f"{loopback.url}/data.csv", filename="data.csv", smiles_column="smiles")
    out = tmp_path / "downloads" / "data.csv"
    download(upstream=upstream, out_path=str(out), mirror=None, retries=0)
    assert out.read_text() == body
    wrong = Upstream(url=upstream.url, filename="other.csv", smiles_column="smiles", sha256="0" * 64)
    with pytest.raises(DownloadError, match="other.csv"):
        download(upstream=wrong, out_path=str(tmp_path / "downloads" / "other.csv"), mirror=None, retries=0)
    assert not (tmp_path / "downloads" / "other.csv").exists()


def test_split_file_records_disjoint_folds_covering_the_table(tmp_path, assay):
    raw, dataset = assay
    table = _standardise(tmp_path, raw, dataset)["csv"]
    out = tmp_path / "split.json"
    split_file(
        standardised_csv=table,
        split="random",
        seed=3,
        fractions=[0.5, 0.25, 0.25],
        out_json=str(out),
        dataset="my_assay",
    )
    split = json.loads(out.read_text())
    assert {k: split[k] for k in ("split", "seed", "fractions", "sizes")} == {
        "split": "random",
        "seed": 3,
        "fractions": [0.5, 0.25, 0.25],
        "sizes": {"train": 4, "valid": 2, "test": 2},
    }
    rows = split["train"] + split["valid"] + split["test"]
    assert sorted(rows) == list(range(8))


def test_data_report_fills_counts_a_dataset_lacks_with_zero(tmp_path):
    files = []
    for name, counts in (
        ("a", {"raw": 5, "kept": 4, "rejected": 1, "rejected: no label": 1}),
        ("b", {"raw": 3, "kept": 3, "rejected": 0}),
    ):
        files.append(tmp_path / f"{name}.json")
        files[-1].write_text(json.dumps({"dataset": name, "source": "custom", **counts}))
    data_report(count_files=[str(p) for p in files], out_csv=str(tmp_path / "report.csv"))
    report = pd.read_csv(tmp_path / "report.csv")
    assert report.to_dict(orient="records") == [
        {"dataset": "a", "source": "custom", "raw": 5, "kept": 4, "rejected": 1, "rejected: no label": 1},
        {"dataset": "b", "source": "custom", "raw": 3, "kept": 3, "rejected": 0, "rejected: no label": 0},
    ]


@pytest.mark.parametrize("exclude", [True, False])
def test_pretrain_corpus_samples_and_lists_what_it_leaves_out(tmp_path, exclude):
    smiles = ["CCO", "CCN", "CCC", "CCCC", "c1ccccc1", "xyz", "CCOC", "CNC"]
    pd.DataFrame({"smiles": smiles}).to_csv(tmp_path / "corpus_in.csv", index=False)
    corpus = resolve(
        "corpus", {"path": str(tmp_path / "corpus_in.csv"), "label_columns": [], "task_type": "regression"}
    )
    benchmark = tmp_path / "benchmark.csv"
    pd.DataFrame({"mol_id": ["d:0", "d:1"], "canonical_smiles": ["CCO", "c1ccccc1"]}).to_csv(
        benchmark, index=False
    )
    out, rejected_csv = tmp_path / "corpus.csv", tmp_path / "corpus.rejected.csv"
    pretrain_corpus(
        corpus=corpus,
        options={"n_molecules": 0, "seed": 0, "exclude_dataset_molecules": exclude},
        dataset_tables=[str(benchmark)],
        download_dir=str(tmp_path / "dl"),
        mirror=None,
        out_csv=str(out),
        rejected_csv=str(rejected_csv),
    )
    kept, rejected = pd.read_csv(out), pd.read_csv(rejected_csv)
    assert kept.columns.tolist() == ["mol_id", "canonical_smiles"]
    left_out = {"CCO", "c1ccccc1"} if exclude else set()
    assert (
        set(kept["canonical_smiles"]) == {"CCO", "CCN", "CCC", "CCCC", "c1ccccc1", "CCOC", "CNC"} - left_out
    )
    reasons = dict(zip(rejected["smiles"], rejected["reason"], strict=True))
    assert reasons.pop("xyz").startswith("SMILES Parse Error")
    assert reasons == dict.fromkeys(left_out, "in a benchmark dataset")
    assert len(kept) + len(rejected) == len(smiles)  # nothing dropped without a line


def test_pretrain_corpus_sample_is_seeded(tmp_path):
    pd.DataFrame({"smiles": ["C" * n for n in range(1, 21)]}).to_csv(tmp_path / "c.csv", index=False)
    corpus = resolve(
        "corpus", {"path": str(tmp_path / "c.csv"), "label_columns": [], "task_type": "regression"}
    )
    samples = []
    for seed in (0, 0, 1):
        out = tmp_path / f"corpus{len(samples)}.csv"
        pretrain_corpus(
            corpus=corpus,
            options={"n_molecules": 5, "seed": seed, "exclude_dataset_molecules": False},
            dataset_tables=[],
            download_dir=str(tmp_path),
            mirror=None,
            out_csv=str(out),
            rejected_csv=str(tmp_path / "rejected.csv"),
        )
        samples.append(pd.read_csv(out)["canonical_smiles"].tolist())
    assert len(samples[0]) == 5 and samples[0] == samples[1] and samples[0] != samples[2]


def test_build_vocab_covers_canonical_and_raw_smiles(tmp_path):
    pd.DataFrame({"canonical_smiles": ["CCO", "c1ccccc1"]}).to_csv(tmp_path / "a.csv", index=False)
    pd.DataFrame({"smiles": ["[NH3+]CCBr"]}).to_csv(tmp_path / "raw.csv", index=False)
    build_vocab(tables=[str(tmp_path / "a.csv")], out_json=str(tmp_path / "v.json"))
    build_vocab(
        tables=[str(tmp_path / "a.csv")],
        out_json=str(tmp_path / "v_raw.json"),
        raw_tables=[str(tmp_path / "raw.csv")],
    )
    plain, raw = SmilesTokenizer.load(tmp_path / "v.json"), SmilesTokenizer.load(tmp_path / "v_raw.json")
    assert len(raw) == len(plain) + 2  # "[NH3+]" and "Br" come from the raw table only
    assert plain.vocab_hash != raw.vocab_hash
