"""Conformer outcome and CPU time of every molecule the default run featurises; one JSON object per line.

    .venv/bin/python benchmarks/conformer_outcomes.py --out runs/outcomes.jsonl [--conformer KEY=VALUE ...]
        [--only SMILES_FILE]

Molecules: the canonical SMILES of `results/data/standardised/*.csv` and `results/pretrain/corpus.csv`
(what the structure stage reads; build them with `snakemake --cores 1 results/pretrain/corpus.csv`), each
once, in the order the tables list them; `--only` keeps those listed in a file, one per line. Settings: the
default config's `structure.conformer`, overridden by `--conformer`. Each line: the SMILES, the tables that
hold it, outcome, reason, CPU seconds of this process (the cost, whatever else loads the machine) and wall
seconds. The last line sums CPU seconds per outcome. Run it alone on one core (`taskset -c 1`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

import pandas as pd
import rdkit
import yaml

from mumo.chem.conformer import ConformerConfig
from mumo.chem.structure import featurize_canonical
from mumo.cli import _key_values

REPO = Path(__file__).resolve().parents[1]


def default_run_molecules(results: Path) -> dict[str, list[str]]:
    """Canonical SMILES -> the tables (file stems) that hold it, in first-seen order."""
    tables = sorted(p for p in (results / "data" / "standardised").glob("*.csv") if "." not in p.stem)
    tables.append(results / "pretrain" / "corpus.csv")
    molecules: dict[str, list[str]] = defaultdict(list)
    for path in tables:
        for smiles in pd.read_csv(path, usecols=["canonical_smiles"])["canonical_smiles"].drop_duplicates():
            molecules[smiles].append(path.stem)
    return dict(molecules)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--results", type=Path, default=REPO / "results")
    parser.add_argument("--conformer", nargs="*", default=[], metavar="KEY=VALUE")
    parser.add_argument("--only", type=Path, help="file of canonical SMILES to measure, one per line")
    args = parser.parse_args()
    settings = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["structure"]["conformer"]
    settings = _key_values(settings, args.conformer, "--conformer")
    config = ConformerConfig.from_dict(settings, "config/config.yaml and --conformer")
    molecules = default_run_molecules(args.results)
    if args.only:
        keep = set(args.only.read_text().split())
        molecules = {smiles: tables for smiles, tables in molecules.items() if smiles in keep}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cpu_by_outcome: dict[str, float] = defaultdict(float)
    count_by_outcome: dict[str, int] = defaultdict(int)
    with args.out.open("w") as out:
        header = {
            "bench": "settings",
            "conformer": settings,
            "rdkit": rdkit.__version__,
            "molecules": len(molecules),
        }
        print(json.dumps({**header, "load_average": os.getloadavg()[0]}), file=out, flush=True)
        for smiles, tables in molecules.items():
            started = time.monotonic()
            result = featurize_canonical(smiles, config)
            wall = time.monotonic() - started
            cpu_by_outcome[result.outcome] += result.cpu_s
            count_by_outcome[result.outcome] += 1
            line = {"smiles": smiles, "tables": tables, "outcome": result.outcome, "reason": result.reason}
            line |= {"cpu_s": round(result.cpu_s, 4), "wall_s": round(wall, 4)}
            print(json.dumps(line), file=out, flush=True)
        summary = {"bench": "summary", "counts": count_by_outcome, "cpu_s": cpu_by_outcome}
        summary |= {"total_cpu_s": sum(cpu_by_outcome.values()), "load_average": os.getloadavg()[0]}
        print(json.dumps(summary), file=out, flush=True)
    print(json.dumps(summary), file=sys.stdout)


if __name__ == "__main__":
    main()
