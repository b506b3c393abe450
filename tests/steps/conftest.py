"""Tiny inputs for the step tests: a custom classification dataset and the files the steps read."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from mumo.data.sources import ResolvedDataset, resolve

#: quick conformers (no explicit H, short force-field runs): geometry quality is irrelevant to the steps
FAST_CONFORMER = {"max_iters": 50, "add_hs_below_heavy_atoms": 0, "timeout_s": 2}

#: eight small molecules, their labels, and one row per kind of rejection
ASSAY = pd.DataFrame(
    {
        "smiles": ["CCO", "CCN", "CCC", "c1ccccc1O", "CC(=O)O", "CCCl", "C1CC", "OCC", "CCBr", "CNC", "CCCC"],
        "active": [1, 0, 1, 0, 1, 0, 1, 1, None, 1, 0],
    }
)


def write_split(path: Path, train: list[int], valid: list[int], test: list[int]) -> Path:
    path.write_text(json.dumps({"train": train, "valid": valid, "test": test}))
    return path


@pytest.fixture
def assay(tmp_path: Path) -> tuple[Path, ResolvedDataset]:
    """The raw CSV of `ASSAY` and its custom dataset entry."""
    path = tmp_path / "assay.csv"
    ASSAY.to_csv(path, index=False)
    options = {"path": str(path), "label_columns": ["active"], "task_type": "classification"}
    return path, resolve("my_assay", options)
