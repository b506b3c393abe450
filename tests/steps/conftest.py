"""Tiny inputs for the step tests."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mumo.data.sources import ResolvedDataset, resolve

#: eleven rows of a small assay: eight usable, one unparsable, one duplicate spelling, one without a label
ASSAY = pd.DataFrame(
    {
        "smiles": ["CCO", "CCN", "CCC", "c1ccccc1O", "CC(=O)O", "CCCl", "C1CC", "OCC", "CCBr", "CNC", "CCCC"],
        "active": [1, 0, 1, 0, 1, 0, 1, 1, None, 1, 0],
    }
)


@pytest.fixture
def assay(tmp_path: Path) -> tuple[Path, ResolvedDataset]:
    """The raw CSV of `ASSAY` and its custom dataset entry."""
    path = tmp_path / "assay.csv"
    ASSAY.to_csv(path, index=False)
    options = {"path": str(path), "label_columns": ["active"], "task_type": "classification"}
    return path, resolve("my_assay", options)
