"""What the conformer-robustness stage costs for a config; prints one JSON object.

    snakemake --configfile config/config.yaml --until split --cores 1     # the tables and split files
    .venv/bin/python benchmarks/robustness.py --config config/config.yaml [--sets 1]

Measured on one core (one worker, one torch thread), with a cache of its own (nothing reused):
  structures   the first `--sets` variant conformer sets' `robustness_structures` over the run's test folds (all
               by default), as the `robustness_structure` jobs compute them: molecules, outcomes, CPU and wall
               seconds per set; `structures_cpu_s_all_sets` scales the measured mean to every variant set
  predictions  per MuMo model of the config, molecules per CPU-second of `predict_dataset` on the union of the
               test folds under the first variant set, at the model's finetuning batch size and precision, with a
               freshly initialised model of its preset (a trained one does the same arithmetic); then the run's
               number of predictions (each seed's test fold under every set) divided by that rate: an
               extrapolation, since no trained model is loaded
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import pandas as pd
import rdkit
import torch
import yaml
from snakemake.utils import validate

from mumo.chem.store import StructureStore
from mumo.chem.tokenizer import SmilesTokenizer
from mumo.model import MuMo, get_preset
from mumo.model.config import FINETUNE_MAX_LENGTH
from mumo.plan import SCHEMA, Plan
from mumo.steps.structure import robustness_structures
from mumo.train.data import MoleculeDataset, split_by_store
from mumo.train.predict import predict_dataset
from mumo.train.recipes import head_fields
from mumo.train.settings import TrainSettings


def measure_structures(plan: Plan, tmp: Path, n_sets: int | None) -> list[dict]:
    rows = []
    for name in list(plan.robustness_stores())[:n_sets]:
        wall, cpu = time.perf_counter(), time.process_time()
        robustness_structures(
            plan.robustness_test_folds(),
            plan.robustness_conformer(name),
            1,
            out_npz=str(tmp / f"{name}.npz"),
            out_report=str(tmp / f"{name}.report.csv"),
            cache_dir=str(tmp / "cache"),
        )
        report = pd.read_csv(tmp / f"{name}.report.csv")
        rows.append(
            {
                "set": name,
                "molecules": len(report),
                "outcomes": report["outcome"].value_counts().to_dict(),
                "cpu_s": round(time.process_time() - cpu, 1),
                "wall_s": round(time.perf_counter() - wall, 1),
            }
        )
    return rows


def fold_molecules(plan: Plan) -> tuple[list[str], int]:
    """The union of the test folds' molecules, and the number of (seed, test molecule) pairs of one model."""
    union, pairs = {}, 0
    for table, split_files in plan.robustness_test_folds().items():
        smiles = pd.read_csv(table, usecols=["canonical_smiles"])["canonical_smiles"]
        for path in split_files:
            rows = json.loads(Path(path).read_text())["test"]
            union |= dict.fromkeys(smiles.iloc[rows])
            pairs += len(rows)
    return list(union), pairs


def measure_predictions(plan: Plan, store: StructureStore) -> list[dict]:
    smiles, pairs = fold_molecules(plan)
    present, _ = split_by_store(smiles, store)
    smiles = [smiles[i] for i in present]
    tokenizer = SmilesTokenizer.build(smiles)
    rows = []
    for model in plan.robustness_models():
        dataset_name = next(iter(plan.datasets))
        settings = TrainSettings.from_dict(plan.model_settings(model, "finetune", dataset_name))
        config = get_preset(
            settings.preset, vocab_size=len(tokenizer), **settings.model, **head_fields("classification", 1)
        )
        network = MuMo(config).eval()
        dataset = MoleculeDataset(smiles, store, tokenizer, settings.max_length or FINETUNE_MAX_LENGTH)
        cpu = time.process_time()
        predict_dataset(network, dataset, settings.batch_size, torch.device("cpu"), settings.precision)
        rate = len(smiles) / (time.process_time() - cpu)
        predictions = pairs * len(plan.robustness_sets())
        rows.append(
            {
                "model": model,
                "preset": settings.preset,
                "batch_size": settings.batch_size,
                "molecules_per_cpu_s": round(rate, 1),
                "run_predictions": predictions,
                "extrapolated_cpu_s": round(predictions / rate, 1),
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="config/config.yaml")
    parser.add_argument("--sets", type=int, default=None, help="variant sets to featurise (default: all)")
    args = parser.parse_args()
    config = yaml.safe_load(Path(args.config).read_text())
    validate(config, str(SCHEMA))  # the schema's defaults, as the Snakefile gets them
    plan = Plan.from_config(config)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="mumo-robustness-") as tmp:
        structures = measure_structures(plan, Path(tmp), args.sets)
        predictions = measure_predictions(plan, StructureStore(Path(tmp) / f"{structures[0]['set']}.npz"))
    print(
        json.dumps(
            {
                "config": args.config,
                "sets": [s.name for s in plan.robustness_sets()],
                "structures": structures,
                "structures_cpu_s": round(sum(s["cpu_s"] for s in structures), 1),
                "structures_cpu_s_all_sets": round(
                    sum(s["cpu_s"] for s in structures) / len(structures) * len(plan.robustness_stores()), 1
                ),
                "predictions": predictions,
                "predictions_extrapolated_cpu_s": round(sum(p["extrapolated_cpu_s"] for p in predictions), 1),
                "machine": platform.processor() or platform.machine(),
                "torch": torch.__version__,
                "rdkit": rdkit.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
