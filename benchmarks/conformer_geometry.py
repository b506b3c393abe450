"""How much of a conformer's geometry the model can see changes between conformer seeds; prints one JSON object.

    .venv/bin/python benchmarks/conformer_geometry.py --table results/data/standardised/bace.csv \
        [--molecules 100] [--seeds 42 43 44 45 46]

The model's only geometric input is the bond angle (docs/model.md §1.3). For the first `--molecules` rows of a
standardised table, each molecule is featurised once per conformer seed with the default conformer settings,
and two spreads over the seeds are compared with their spread over the data:
  bond angles          what the model sees: per angle, the standard deviation over seeds (degrees)
  atom-pair distances  what it does not see: per atom pair, the same (Å), to show the conformers do differ
Molecules whose conformer is not an MMFF minimum under every seed are counted and left out of the spreads.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd
import rdkit

from mumo.chem.conformer import ConformerConfig
from mumo.chem.structure import featurize_canonical


def _distances(pos: np.ndarray) -> np.ndarray:
    """Upper-triangle atom-pair distances of one conformer."""
    upper = np.triu_indices(len(pos), k=1)
    return np.linalg.norm(pos[:, None] - pos[None], axis=-1)[upper]


def _spread(per_seed: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(std over seeds of each entry, the first seed's values): one molecule's contribution."""
    stacked = np.stack(per_seed)
    return stacked.std(axis=0), stacked[0]


def _summary(spreads: list[np.ndarray], values: list[np.ndarray], scale: float) -> dict[str, float]:
    spread, value = np.concatenate(spreads) * scale, np.concatenate(values) * scale
    return {
        "entries": int(spread.size),
        "seed_spread_mean": round(float(spread.mean()), 4),
        "seed_spread_p99": round(float(np.quantile(spread, 0.99)), 4),
        "seed_spread_max": round(float(spread.max()), 4),
        "data_spread": round(float(value.std()), 4),
    }


def measure(canonical_smiles: list[str], seeds: list[int]) -> dict:
    """Spreads of bond angles and distances over conformer seeds, for molecules that are MMFF minima under all."""
    angles: tuple[list, list] = ([], [])
    distances: tuple[list, list] = ([], [])
    skipped: dict[str, int] = {}
    for canonical in canonical_smiles:
        results = [featurize_canonical(canonical, ConformerConfig(seed=seed)) for seed in seeds]
        outcomes = {result.outcome for result in results}
        if outcomes != {"mmff"}:
            key = "/".join(sorted(outcomes))
            skipped[key] = skipped.get(key, 0) + 1
            continue
        for target, values in (
            (angles, [result.record["ba_angle"] for result in results]),
            (distances, [_distances(result.record["pos"]) for result in results]),
        ):
            spread, first = _spread(values)
            target[0].append(spread)
            target[1].append(first)
    return {
        "molecules": len(canonical_smiles),
        "skipped_not_mmff": skipped,
        "bond_angle_deg": _summary(*angles, scale=180.0 / np.pi),
        "distance_angstrom": _summary(*distances, scale=1.0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--table", type=Path, required=True, help="a standardised table (its canonical_smiles column)"
    )
    parser.add_argument("--molecules", type=int, default=100)
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 43, 44, 45, 46])
    args = parser.parse_args()
    canonical = pd.read_csv(args.table)["canonical_smiles"].head(args.molecules).tolist()
    start = time.perf_counter()
    result = measure(canonical, args.seeds)
    print(
        json.dumps(
            {
                "table": str(args.table),
                "seeds": args.seeds,
                **result,
                "wall_s": round(time.perf_counter() - start, 1),
                "machine": platform.machine(),
                "rdkit": rdkit.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
