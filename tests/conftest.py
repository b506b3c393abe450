"""Shared fixtures (helpers live in tests/helpers.py, importable because pytest puts tests/ on sys.path).

Tiny real data for the training, application and model-import tests: MoleculeNet cuts standardised, split,
featurised and tokenised once per session.

TORCH_EXTENSIONS_DIR points at an empty directory for the whole session (and every subprocess), so no test is
fast because of a warm ~/.cache/torch_extensions; `test_no_op_is_compiled` checks it stays empty.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from helpers import MOLECULENET, LoopbackServer

from mumo.chem.conformer import ConformerConfig
from mumo.chem.store import build_shard
from mumo.chem.tokenizer import SmilesTokenizer
from mumo.data.splits import make_split
from mumo.data.standardise import standardise
from mumo.train.launch import cli_command
from mumo.train.recipes import FinetuneData, PretrainData

EXTENSIONS_DIR = Path(tempfile.mkdtemp(prefix="mumo-torch-extensions-"))
os.environ["TORCH_EXTENSIONS_DIR"] = str(EXTENSIONS_DIR)

# a few seconds for ~150 molecules: no explicit H, short force-field runs (geometry quality is irrelevant here)
FAST_CONFORMERS = ConformerConfig(max_iters=50, add_hs_below_heavy_atoms=0, max_embed_attempts=10)

#: a tiny-preset run that takes a few seconds: no progress bar, no DataLoader worker, one torch thread
TINY = {"preset": "tiny", "batch_size": 8, "lr": 3e-3, "warmup_steps": 2, "progress": False, "num_workers": 0}


@dataclass(frozen=True)
class Dataset:
    table: Path
    split: Path
    tasks: list[str]
    task_type: str


@dataclass(frozen=True)
class TinyData:
    root: Path
    store: Path
    vocab: Path
    corpus: Path
    datasets: dict[str, Dataset]

    def pretrain_data(self, **data: Any) -> PretrainData:
        """The corpus, store and vocabulary as run_pretrain takes them; `data` replaces fields."""
        given = PretrainData(
            str(self.corpus), str(self.store), str(self.vocab), dataclasses.asdict(FAST_CONFORMERS)
        )
        return dataclasses.replace(given, **data)

    def finetune_args(self, name: str, out: Path, seed: int = 0, **data: Any) -> dict:
        """Keyword arguments of run_finetune for dataset `name`, writing under `out`; `data` replaces fields
        of its FinetuneData."""
        d = self.datasets[name]
        given = FinetuneData(
            str(d.table),
            str(d.split),
            str(self.store),
            str(self.vocab),
            d.tasks,
            d.task_type,
            conformer=dataclasses.asdict(FAST_CONFORMERS),
        )
        return {
            "data": dataclasses.replace(given, **data),
            "seed": seed,
            "out_predictions": str(out / "predictions.csv"),
            "out_dir": str(out),
        }

    def finetune_cli(self, name: str, out: Path, settings: dict, seed: int = 0) -> list[str]:
        """`mumo finetune` arguments for dataset `name` (settings passed as a JSON file)."""
        d = self.datasets[name]
        settings_json = (
            out.parent / f"{out.name}.settings.json"
        )  # beside the run folder, which is the run's own
        settings_json.parent.mkdir(parents=True, exist_ok=True)
        settings_json.write_text(json.dumps(settings))
        return [
            "finetune",
            f"--table={d.table}",
            f"--split={d.split}",
            f"--store={self.store}",
            f"--vocab={self.vocab}",
            "--target-columns",
            *d.tasks,
            f"--task-type={d.task_type}",
            f"--seed={seed}",
            f"--predictions={out / 'predictions.csv'}",
            f"--output={out}",
            f"--settings={settings_json}",
            "--conformer",
            *(f"{key}={value}" for key, value in dataclasses.asdict(FAST_CONFORMERS).items()),
        ]


def _table(name: str, smiles_column: str, tasks: list[str], task_type: str, rows: int) -> pd.DataFrame:
    raw = pd.read_csv(MOLECULENET / f"{name}.csv").head(rows)
    raw = raw.rename(columns={smiles_column: "smiles"})[["smiles", *tasks]]
    return standardise(raw, tasks, task_type, name).table


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> TinyData:
    root = tmp_path_factory.mktemp("train-data")
    specs = {
        "bbbp": ("smiles", ["p_np"], "classification", 64),
        "tox21": ("smiles", ["NR-AR", "NR-AhR", "SR-ARE"], "classification", 48),
        "esol": ("smiles", ["measured log solubility in mols per litre"], "regression", 48),
    }
    datasets, tables, splits = {}, [], {}
    for name, (column, tasks, task_type, rows) in specs.items():
        table = _table(name, column, tasks, task_type, rows)
        table.to_csv(root / f"{name}.csv", index=False)
        split = make_split(table, "random", 0, [0.6, 0.2, 0.2])
        (root / f"{name}.split.json").write_text(json.dumps({"split": "random", "seed": 0, **split}))
        splits[name] = split
        datasets[name] = Dataset(root / f"{name}.csv", root / f"{name}.split.json", tasks, task_type)
        tables.append(table)
    smiles = pd.concat(tables)["canonical_smiles"].drop_duplicates()
    # the first test molecule of bbbp has no structure record: it must still come out, with y_pred NaN
    stored = [s for s in smiles if s != tables[0]["canonical_smiles"].iloc[splits["bbbp"]["test"][0]]]
    build_shard(stored, root / "store" / "shard.npz", FAST_CONFORMERS)
    SmilesTokenizer.build(smiles).save(root / "vocab.json")
    smiles.to_frame().to_csv(root / "corpus.csv", index=False)
    return TinyData(root, root / "store", root / "vocab.json", root / "corpus.csv", datasets)


@pytest.fixture(scope="session")
def tiny() -> dict:
    """Settings of a tiny run (combine with `tiny | {...}`; never mutate)."""
    return TINY


class LengthsOnly:
    """Stands in for a MoleculeDataset where only the token lengths and the size are read (batching)."""

    def __init__(self, lengths: np.ndarray) -> None:
        self.lengths = lengths

    def __len__(self) -> int:
        return len(self.lengths)


@pytest.fixture(scope="session")
def lengths_only() -> type[LengthsOnly]:
    return LengthsOnly


@pytest.fixture(scope="session")
def fast_conformers() -> ConformerConfig:
    return FAST_CONFORMERS


@pytest.fixture(scope="session")
def extensions_dir() -> Path:
    return EXTENSIONS_DIR


def _start_cli(args: list[str], torchrun: int | None = None) -> subprocess.Popen:
    """Start `mumo ARGS` (under torchrun with `torchrun` processes) as a subprocess."""
    return subprocess.Popen(
        cli_command(args, torchrun or 1), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


@pytest.fixture(scope="session")
def start_cli():
    return _start_cli


@pytest.fixture
def loopback(tmp_path: Path) -> Iterator[LoopbackServer]:
    root = tmp_path / "served"
    root.mkdir()
    with LoopbackServer(root) as server:
        yield server


#: fixtures that run the tiny pipeline or snakemake, build and install the wheel or pretrain for epochs: a test
#: using one is `slow`
SLOW_FIXTURES = frozenset({"finished_run", "run_copy", "wheel", "pretrained_six_epochs", "workflow_rules"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """`slow` by definition, so that the fast loop `pytest -m "not slow"` runs no pipeline and starts no
    cluster: a test on a real SLURM cluster (it starts its daemons; the end-to-end one runs a pipeline on
    them), and one using a fixture of SLOW_FIXTURES."""
    for item in items:
        if item.get_closest_marker("slurm") or SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
