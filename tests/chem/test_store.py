from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rdkit

import mumo.chem.store as store_module
from mumo.chem.conformer import ConformerConfig
from mumo.chem.store import (
    OUTCOMES,
    REPORT_COLUMNS,
    StoreSettingsError,
    StructureStore,
    build_shard,
    featurize_csv,
    shard_index,
    summarize_outcomes,
    write_shard,
)
from mumo.chem.structure import canonical_smiles, featurize_canonical, parse_smiles
from mumo.cli import main

DRUGS = [
    "CC(=O)Oc1ccccc1C(=O)O",
    "CC(C)Cc1ccc(cc1)C(C)C(=O)O",
    "CN1C=NC2=C1C(=O)N(C(=O)N2C)C",
    "CC(=O)Nc1ccc(O)cc1",
    "OC(=O)c1ccccc1O",
    "c1ccc2c(c1)[nH]c1ccccc12",
    "CCN(CC)C(=O)c1ccc2c(c1)OCO2",
    "O=C(O)CCc1ccccc1",
]


def _assert_same_record(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], str):
            assert a[key] == b[key], key
        else:
            assert a[key].dtype == b[key].dtype and a[key].shape == b[key].shape, key
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_shard_index_is_stable_and_in_range():
    # Pinned: a change here would silently move every molecule to another shard.
    assert [shard_index(s, 1000) for s in ("CCO", "c1ccccc1", "O")] == [422, 88, 513]
    assert {shard_index(s, 4) for s in DRUGS} <= {0, 1, 2, 3}


def test_shard_round_trip_without_pickle(tmp_path: Path, awkward_smiles, fast_config):
    records = [featurize_canonical(canonical_smiles(s), fast_config).record for s in awkward_smiles.values()]
    write_shard(records, tmp_path / "a.npz", fast_config)
    with np.load(tmp_path / "a.npz", allow_pickle=False) as npz:
        assert all(npz[key].dtype != object for key in npz.files)
    assert zipfile.ZipFile(tmp_path / "a.npz").testzip() is None
    store = StructureStore(tmp_path / "a.npz")
    assert len(store) == len(records)
    for record in records:
        assert record["smiles"] in store
        _assert_same_record(store[record["smiles"]], record)


def test_a_store_file_records_its_settings_and_a_reader_refuses_other_settings(tmp_path: Path, fast_config):
    build_shard(DRUGS[:2], tmp_path / "a.npz", fast_config)
    assert DRUGS[0] in StructureStore(tmp_path / "a.npz", conformer=fast_config)
    other = ConformerConfig(max_embed_attempts=3, max_iters=7)
    store = StructureStore([tmp_path / "a.npz"], conformer=other)
    message = f"{tmp_path / 'a.npz'}: structure store built with conformer settings max_iters=2000, but this model's are max_iters=7;"
    with pytest.raises(StoreSettingsError, match=f"^{re.escape(message)}[^\n]*$"):
        DRUGS[0] in store  # noqa: B015
    # the RDKit version is part of the settings
    with open(tmp_path / "a.npz", "rb") as handle:
        arrays = dict(np.load(handle, allow_pickle=False))
    recorded = json.loads(arrays["settings_utf8"].tobytes())
    assert recorded == fast_config.record() and recorded["rdkit"] == rdkit.__version__
    older = {**recorded, "rdkit": "2020.09.1", "digest": "0" * 16}
    arrays["settings_utf8"] = np.frombuffer(json.dumps(older).encode(), dtype=np.uint8)
    np.savez_compressed(tmp_path / "older.npz", **arrays)
    with pytest.raises(
        StoreSettingsError, match=f"rdkit=2020.09.1, but this model's are rdkit={rdkit.__version__};"
    ):
        DRUGS[0] in StructureStore(tmp_path / "older.npz", conformer=fast_config)  # noqa: B015
    assert DRUGS[0] in StructureStore(tmp_path / "older.npz")  # a reader without settings does not check


def test_a_store_file_without_a_settings_record_is_read_with_a_warning(tmp_path: Path, fast_config, caplog):
    build_shard(DRUGS[:2], tmp_path / "new.npz", fast_config)
    with open(tmp_path / "new.npz", "rb") as handle:
        arrays = {k: v for k, v in np.load(handle, allow_pickle=False).items() if k != "settings_utf8"}
    np.savez_compressed(tmp_path / "old.npz", **arrays)  # as mumo wrote them before the record
    store = StructureStore(tmp_path / "old.npz", conformer=fast_config)
    _assert_same_record(store[DRUGS[0]], StructureStore(tmp_path / "new.npz")[DRUGS[0]])
    assert "old.npz: structure store file without a record of its conformer settings" in caplog.text


def test_empty_shard(tmp_path: Path):
    report = build_shard([], tmp_path / "empty.npz")
    assert list(report.columns) == REPORT_COLUMNS and report.empty
    store = StructureStore(tmp_path)
    assert len(store) == 0 and "CCO" not in store


def test_store_reads_a_directory_of_shards_lazily(tmp_path: Path):
    config = ConformerConfig()
    records = [featurize_canonical(canonical_smiles(s), config).record for s in DRUGS]
    write_shard(records[:3], tmp_path / "shard-0.npz", config)
    write_shard(records[3:], tmp_path / "shard-1.npz", config)
    store = StructureStore(tmp_path)
    assert len(store) == len(DRUGS) and set(store) == {r["smiles"] for r in records}
    _assert_same_record(store[records[5]["smiles"]], records[5])
    assert store._shards[0]._arrays is None  # only the shard that was asked for is loaded
    # Any spelling of a stored molecule finds it; unknown molecules raise KeyError.
    assert store["OC(=O)c1ccccc1OC(C)=O"]["smiles"] == records[0]["smiles"]
    assert [r["smiles"] for r in store.get_many([records[4]["smiles"], records[1]["smiles"]])] == [
        records[4]["smiles"],
        records[1]["smiles"],
    ]
    with pytest.raises(KeyError):
        store["CCCCCCCCCCCCCCCCCCCC"]
    with pytest.raises(FileNotFoundError):
        StructureStore(tmp_path / "missing")
    # a list of shard files (the pipeline's declared inputs) reads those files and no other
    listed = StructureStore([tmp_path / "shard-1.npz"])
    assert set(listed) == {r["smiles"] for r in records[3:]} and records[0]["smiles"] not in listed
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        StructureStore([tmp_path / "shard-0.npz", tmp_path / "missing.npz"])


def test_shard_log_is_a_summary_without_a_progress_bar(tmp_path: Path, fast_config, caplog, capsys):
    caplog.set_level("INFO", logger="mumo.chem.store")
    build_shard(DRUGS[:3], tmp_path / "s.npz", fast_config, workers=1)
    (line,) = [r.getMessage() for r in caplog.records]
    assert re.fullmatch(
        r".*s\.npz: 3 rows, 3 molecules, 0 from cache, 3 computed, 0 rejected; outcomes: .+; [\d.]+ s", line
    )
    assert "mol/s" not in capsys.readouterr().err  # stderr is not a terminal here: no bar


def test_build_shard_reports_every_row_in_order(tmp_path: Path, awkward_smiles, invalid_smiles, fast_config):
    smiles = [*awkward_smiles.values(), *invalid_smiles.values(), DRUGS[1], "OC(=O)C(C)c1ccc(CC(C)C)cc1"]
    report = build_shard(smiles, tmp_path / "s.npz", fast_config)
    assert report["row"].tolist() == list(range(len(smiles)))
    assert report["smiles"].tolist() == smiles
    assert set(report["outcome"]) <= set(OUTCOMES)
    rejected = report[report["outcome"] == "rejected"]
    assert rejected["smiles"].tolist() == list(invalid_smiles.values())
    assert rejected["reason"].str.len().gt(0).all()
    # Ibuprofen twice (two spellings): one record, computed once.
    assert report["canonical_smiles"].iloc[-1] == report["canonical_smiles"].iloc[-2]
    assert report["computed"].tolist()[-2:] == [True, False]
    store = StructureStore(tmp_path / "s.npz")
    assert len(store) == len(awkward_smiles) + 1
    for row in report.itertuples():
        if row.outcome != "rejected":
            assert store[row.canonical_smiles]["conformer_source"] == row.outcome


def test_cache_reuse_computes_only_new_molecules(tmp_path: Path):
    config, cache = ConformerConfig(), tmp_path / "cache"
    first = build_shard(DRUGS[:6], tmp_path / "out.npz", config, cache_dir=cache)
    assert first["computed"].sum() == 6 and not first["cached"].any()
    before = StructureStore(tmp_path / "out.npz")
    records = {s: before[s] for s in before}

    (tmp_path / "out.npz").unlink()  # as Snakemake does before a rerun
    again = build_shard(DRUGS[:6], tmp_path / "out.npz", config, cache_dir=cache)
    assert again["computed"].sum() == 0 and again["cached"].all()
    assert again["outcome"].tolist() == first["outcome"].tolist()
    after = StructureStore(tmp_path / "out.npz")
    for smiles, record in records.items():
        _assert_same_record(after[smiles], record)

    grown = build_shard(DRUGS, tmp_path / "out.npz", config, cache_dir=cache)
    assert grown["computed"].sum() == 2 and grown["cached"].sum() == 6
    # Another configuration does not see these records.
    other = build_shard(DRUGS[:2], tmp_path / "other.npz", ConformerConfig(seed=1), cache_dir=cache)
    assert other["computed"].sum() == 2
    assert len(list(cache.iterdir())) == 2


def test_cached_rerun_parses_only_spellings_it_has_not_seen(tmp_path: Path, monkeypatch):
    config, cache = ConformerConfig(), tmp_path / "cache"
    inputs = [*DRUGS[:3], "OCC", "CCO ethanol", "C1CC"]  # two spellings of ethanol, one with a name; invalid
    first = build_shard(inputs, tmp_path / "first.npz", config, cache_dir=cache)

    parsed_again = []

    def recording_parse(smiles):
        parsed_again.append(smiles)
        return parse_smiles(smiles)

    monkeypatch.setattr(store_module, "parse_smiles", recording_parse)
    again = build_shard([*inputs, "C(C)O"], tmp_path / "again.npz", config, cache_dir=cache)
    # Whitespace cannot go into the key file and rejected inputs are parsed again to report why.
    assert parsed_again == ["CCO ethanol", "C1CC", "C(C)O"]
    columns = ["canonical_smiles", "outcome", "reason"]
    pd.testing.assert_frame_equal(again[columns].iloc[:-1], first[columns])
    assert again["canonical_smiles"].iloc[-1] == "CCO" and again["cached"].iloc[-1]
    _assert_same_record(
        StructureStore(tmp_path / "again.npz")["CCO"], StructureStore(tmp_path / "first.npz")["CCO"]
    )
    # The new spelling went into a second key file.
    assert len(list((cache / config.digest()).glob("*.keys.tsv"))) == 2


@pytest.mark.slow
def test_same_seed_same_coordinates_across_processes_and_worker_counts(tmp_path: Path):
    smiles = DRUGS * 2 + ["CCCCCCCCOC(=O)c1ccccc1", "CC1(C)SC2C(NC(=O)Cc3ccccc3)C(=O)N2C1C(=O)O"]
    config = ConformerConfig(seed=11)
    build_shard(smiles, tmp_path / "w1.npz", config, workers=1)
    build_shard(smiles, tmp_path / "w2.npz", config, workers=2)
    # A fresh interpreter (own hash seed, own RDKit state) builds the same shard too.
    script = (
        "import sys; from mumo.chem.conformer import ConformerConfig; from mumo.chem.store import build_shard; "
        "build_shard(sys.argv[2:], sys.argv[1], ConformerConfig(seed=11), workers=2)"
    )
    subprocess.run([sys.executable, "-c", script, str(tmp_path / "fresh.npz"), *smiles], check=True)
    one = StructureStore(tmp_path / "w1.npz")
    for other in (StructureStore(tmp_path / "w2.npz"), StructureStore(tmp_path / "fresh.npz")):
        assert list(other) == list(one)
        for key in one:
            _assert_same_record(other[key], one[key])


def test_featurize_csv_writes_store_and_full_report(tmp_path: Path, invalid_smiles):
    smiles = [DRUGS[0], invalid_smiles["valence"], "", DRUGS[1], "N.N.Cl[Pt]Cl", DRUGS[0]]
    pd.DataFrame({"id": range(len(smiles)), "SMILES": smiles}).to_csv(tmp_path / "in.csv", index=False)
    assert (
        main(
            [
                "featurize",
                str(tmp_path / "in.csv"),
                "--output",
                str(tmp_path / "out"),
                "--smiles-column",
                "SMILES",
            ]
        )
        == 0
    )
    report = pd.read_csv(tmp_path / "out" / "report.csv", keep_default_na=False)
    assert list(report.columns[:5]) == ["row", "smiles", "canonical_smiles", "outcome", "reason"]
    assert report["row"].tolist() == list(range(len(smiles)))
    assert report["smiles"].tolist() == smiles
    assert report["outcome"].tolist() == ["mmff", "rejected", "rejected", "mmff", "etkdg_unoptimised", "mmff"]
    assert "valence" in report["reason"][1] and report["reason"][2] == "empty SMILES"
    store = StructureStore(tmp_path / "out")
    assert len(store) == 3 and DRUGS[1] in store

    again = featurize_csv(tmp_path / "in.csv", tmp_path / "out", smiles_column="SMILES")
    assert again["computed"].sum() == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [("", "empty file"), ("smiles\n", "no rows"), ("name,smi\na,CCO\n", "available columns: name, smi")],
)
def test_featurize_csv_rejects_unusable_files(tmp_path: Path, content: str, message: str):
    (tmp_path / "in.csv").write_text(content)
    with pytest.raises(ValueError, match=message) as error:
        featurize_csv(tmp_path / "in.csv", tmp_path / "out")
    assert "in.csv" in str(error.value) and "'smiles'" in str(error.value)


def test_summarize_outcomes_counts_per_dataset():
    report = pd.DataFrame(
        {
            "dataset": ["a", "a", "a", "b"],
            "outcome": ["mmff", "rejected", "rejected", "2d_fallback"],
            "reason": ["", "empty SMILES", "empty SMILES", "401 atoms > max_atoms=400"],
            "cpu_s": [0.5, 0.0, 0.0, 0.25],
        }
    )
    summary = summarize_outcomes(report)
    assert len(summary) == 2 * len(OUTCOMES)
    a = summary[summary["dataset"] == "a"].set_index("outcome")
    assert a.loc["mmff", "molecules"] == 1 and a.loc["rejected", "molecules"] == 2
    assert a.loc["rejected", "reasons"] == "empty SMILES (2)"
    assert a.loc["mmff", "cpu_s"] == 0.5 and a["fraction"].sum() == pytest.approx(1.0)
    b = summary[summary["dataset"] == "b"].set_index("outcome")
    assert b.loc["2d_fallback", "label"] == "2D only (no 3D)" and b.loc["2d_fallback", "fraction"] == 1.0
    assert set(summarize_outcomes(report.drop(columns="dataset"))["dataset"]) == {"all"}


@pytest.mark.parametrize("damage", ["truncated", "array cut short"])
def test_corrupt_cache_file_is_reported_moved_aside_and_recomputed(
    tmp_path: Path, fast_config, caplog, damage
):
    cache = tmp_path / "cache"
    first = build_shard(DRUGS[:3], tmp_path / "first.npz", fast_config, cache_dir=cache)
    (cached,) = (cache / fast_config.digest()).glob("*.npz")
    intact = cached.read_bytes()
    if damage == "truncated":  # a job killed mid-copy, a full disk
        cached.write_bytes(intact[: len(intact) // 2])
    else:  # a readable zip whose atom array no longer matches its pointers (found only when a record is read)
        with np.load(cached) as npz:
            arrays = {key: npz[key] for key in npz.files}
        np.savez_compressed(cached, **arrays | {"pos": arrays["pos"][:-1]})

    again = build_shard(DRUGS[:3], tmp_path / "again.npz", fast_config, cache_dir=cache)
    assert again["computed"].all() and not again["cached"].any()
    assert again["outcome"].tolist() == first["outcome"].tolist()
    assert str(cached) in caplog.text and "moved aside" in caplog.text
    assert [p.name.split(".corrupt-")[0] for p in cached.parent.glob("*.corrupt-*")] == [cached.name]
    (tmp_path / "intact.npz").write_bytes(intact)
    for smiles in StructureStore(tmp_path / "first.npz"):
        _assert_same_record(
            StructureStore(tmp_path / "again.npz")[smiles], StructureStore(tmp_path / "intact.npz")[smiles]
        )


@pytest.mark.parametrize("damage", ["cut inside a key", "garbled key"])
def test_damaged_keys_line_never_maps_a_spelling(tmp_path: Path, fast_config, caplog, damage):
    cache = tmp_path / "cache"
    build_shard(["OCC", "OCCCC"], tmp_path / "first.npz", fast_config, cache_dir=cache)
    (keys,) = (cache / fast_config.digest()).glob("*.keys.tsv")
    text = keys.read_text()
    assert "OCCCC\tCCCCO" in text
    if damage == "cut inside a key":  # the key CCCCO cut to CCC (propane), as a killed writer would leave it
        keys.write_text(text[: text.index("OCCCC\tCCCCO") + len("OCCCC\tCCC")])
    else:
        keys.write_text(text.replace("OCCCC\tCCCCO", "OCCCC\tCCCCN"))

    again = build_shard(["OCC", "OCCCC"], tmp_path / "again.npz", fast_config, cache_dir=cache)
    assert again["canonical_smiles"].tolist() == ["CCO", "CCCCO"] and again["cached"].all()
    assert str(keys) in caplog.text and "checksum" in caplog.text
    assert len(list(keys.parent.glob("*.keys.tsv.corrupt-*"))) == 1
    # the spellings were parsed again and recorded in a sound keys file
    (rewritten,) = (cache / fast_config.digest()).glob("*.keys.tsv")
    assert "OCCCC\tCCCCO\t" in rewritten.read_text()


def test_corrupt_store_shard_is_an_error_naming_the_file(tmp_path: Path, fast_config):
    build_shard(DRUGS[:2], tmp_path / "store" / "shard-0.npz", fast_config)
    shard = tmp_path / "store" / "shard-0.npz"
    shard.write_bytes(shard.read_bytes()[:-40])
    with pytest.raises(ValueError, match=rf"{shard}: corrupt structure store file .*delete it and rerun"):
        DRUGS[0] in StructureStore(tmp_path / "store")  # noqa: B015


def test_verbatim_strings_get_records_built_from_themselves(tmp_path: Path, fast_config):
    salt, ethanol = "[Cl].CC(C)NCC(O)COc1cccc2ccccc12", "OCC"
    cache = tmp_path / "cache"
    inputs = ["CC(C)NCC(O)COc1cccc2ccccc12", "CCO", salt, ethanol]
    report = build_shard(inputs, tmp_path / "a.npz", fast_config, cache_dir=cache, verbatim={salt, ethanol})
    assert report["canonical_smiles"].tolist() == ["CC(C)NCC(O)COc1cccc2ccccc12", "CCO", salt, ethanol]
    store = StructureStore(tmp_path / "a.npz")
    assert store[salt]["smiles"] == salt and store[ethanol]["smiles"] == ethanol
    assert len(store[salt]["x"]) == len(store["CC(C)NCC(O)COc1cccc2ccccc12"]["x"]) + 1  # the chloride too
    # atoms in the string's own order: O first in OCC, last in CCO (atomic number is feature 0, index = Z - 1)
    assert store[ethanol]["x"][:, 0].tolist() == [7, 5, 5] and store["CCO"]["x"][:, 0].tolist() == [5, 5, 7]

    # without `verbatim` a spelling is keyed by its canonical form, as before; the cache keeps both records
    again = build_shard([ethanol, salt], tmp_path / "b.npz", fast_config, cache_dir=cache)
    assert again["canonical_smiles"].tolist() == ["CCO", "CC(C)NCC(O)COc1cccc2ccccc12.[Cl]"]
    assert again["cached"].tolist() == [True, False]
    cached = build_shard([ethanol], tmp_path / "c.npz", fast_config, cache_dir=cache, verbatim={ethanol})
    assert cached["cached"].all()
    _assert_same_record(StructureStore(tmp_path / "c.npz")[ethanol], store[ethanol])


def test_an_interrupted_structure_stage_keeps_what_it_finished(
    tmp_path: Path, fast_config, monkeypatch, caplog
):
    """The cache used to be written once at the end: a run stopped after 10 of 23 minutes kept nothing."""
    monkeypatch.setattr(store_module, "CACHE_CHUNK", 2)
    featurize = store_module.featurize_canonical
    done = []

    def stopped_at_the_sixth(smiles, config):
        if len(done) == 5:
            raise KeyboardInterrupt
        done.append(smiles)
        return featurize(smiles, config)

    monkeypatch.setattr(store_module, "featurize_canonical", stopped_at_the_sixth)
    caplog.set_level("INFO", logger="mumo.chem.store")
    with pytest.raises(KeyboardInterrupt):
        build_shard(DRUGS, tmp_path / "s.npz", fast_config, cache_dir=tmp_path / "cache")
    assert re.search(r"s\.npz: 4 of 8 molecules featurised and cached, \d+ s, about \d+ s left", caplog.text)
    monkeypatch.setattr(store_module, "featurize_canonical", featurize)
    again = build_shard(DRUGS, tmp_path / "s.npz", fast_config, cache_dir=tmp_path / "cache")
    assert again["cached"].sum() == 4 and again["computed"].sum() == 4
