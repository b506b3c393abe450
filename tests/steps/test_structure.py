import pandas as pd
import pytest

from mumo.chem.store import OUTCOMES, REPORT_COLUMNS, StructureStore, shard_index
from mumo.steps.structure import structure_report, structure_shard

#: quick conformers (no explicit H, short force-field runs): geometry quality is irrelevant to the steps
FAST_CONFORMER = {"max_iters": 50, "add_hs_below_heavy_atoms": 0, "max_embed_attempts": 10}


def _tables(tmp_path):
    """Two standardised tables sharing a molecule, and a raw table whose `OCC` is written differently."""
    pd.DataFrame({"canonical_smiles": ["CCO", "CCN", "c1ccccc1"]}).to_csv(tmp_path / "a.csv", index=False)
    pd.DataFrame({"canonical_smiles": ["CCO", "CCCl"]}).to_csv(tmp_path / "b.csv", index=False)
    pd.DataFrame({"smiles": ["OCC", "CCN", None]}).to_csv(tmp_path / "a.raw.csv", index=False)
    return [str(tmp_path / "a.csv"), str(tmp_path / "b.csv")], [str(tmp_path / "a.raw.csv")]


def _shard(tmp_path, tables, shard, n_shards, raw=()):
    out = tmp_path / f"shard{shard}.npz"
    structure_shard(
        standardised_csvs=tables,
        sharding=(shard, n_shards),
        conformer=FAST_CONFORMER,
        workers=1,
        out_npz=str(out),
        out_report=str(tmp_path / f"shard{shard}.report.csv"),
        cache_dir=str(tmp_path / "cache"),
        raw_csvs=raw,
    )
    return out, pd.read_csv(tmp_path / f"shard{shard}.report.csv", keep_default_na=False)


def test_a_shard_holds_each_molecule_once_and_the_raw_strings_as_written(tmp_path):
    tables, raw = _tables(tmp_path)
    out, report = _shard(tmp_path, tables, 0, 1, raw)
    assert report.columns.tolist() == REPORT_COLUMNS
    # canonical molecules first, each once; then the raw strings not already among them
    assert report["smiles"].tolist() == ["CCO", "CCN", "c1ccccc1", "CCCl", "OCC"]
    assert set(report["outcome"]) <= set(OUTCOMES) - {"rejected"}
    store = StructureStore(out)
    assert set(store) == {"CCO", "CCN", "c1ccccc1", "CCCl", "OCC"}  # OCC keyed by itself, not as CCO
    assert store["OCC"]["smiles"] == "OCC" and store["CCO"]["smiles"] == "CCO"


def test_shards_split_the_molecules_without_overlap(tmp_path):
    tables, _raw = _tables(tmp_path)
    reports = [_shard(tmp_path, tables, shard, 3)[1] for shard in range(3)]
    for shard, report in enumerate(reports):
        assert all(shard_index(s, 3) == shard for s in report["smiles"])
    together = [s for report in reports for s in report["smiles"]]
    assert sorted(together) == sorted(["CCO", "CCN", "c1ccccc1", "CCCl"])


def test_structure_report_counts_outcomes_per_dataset(tmp_path):
    tables, _raw = _tables(tmp_path)
    _shard(tmp_path, tables, 0, 1)
    out = tmp_path / "structure_report.csv"
    structure_report(
        standardised={"a": tables[0], "b": tables[1]},
        shard_reports=[str(tmp_path / "shard0.report.csv")],
        out_csv=str(out),
    )
    report = pd.read_csv(out)
    assert report.columns[:4].tolist() == ["dataset", "outcome", "label", "molecules"]
    assert report.groupby("dataset")["molecules"].sum().to_dict() == {"a": 3, "b": 2}
    assert len(report) == 2 * len(OUTCOMES)  # every outcome listed, zeros included


def test_structure_report_names_a_dataset_with_molecules_no_shard_holds(tmp_path):
    tables, _raw = _tables(tmp_path)
    _shard(tmp_path, [tables[0]], 0, 1)
    with pytest.raises(ValueError, match=r"^b: 1 molecules have no structure outcome"):
        structure_report(
            standardised={"a": tables[0], "b": tables[1]},
            shard_reports=[str(tmp_path / "shard0.report.csv")],
            out_csv=str(tmp_path / "out.csv"),
        )
    assert not (tmp_path / "out.csv").exists()
