"""How much finetuning does MuMo need to learn? One `run_finetune` per call, scored on the validation fold only.

Reads the default pipeline's inputs (run `snakemake --until pretrain structure_report split` first) and appends one
JSON line per run to `--out`: CPU and wall seconds, steps, the validation-loss curve, the train loss per epoch,
the chance-level validation loss (a constant prediction from the train fold: the class prior's cross-entropy, or
the train mean's scaled MSE), and the validation metric. The test fold is never scored here: settings are chosen
on validation only.

    # one learning-rate candidate on BACE, from the default run's pretrained encoder
    .venv/bin/python benchmarks/train_budget.py --dataset bace --lr 1e-3 --epochs 10 --patience 3 \\
        --pretrained results/pretrain/mumo/model --out benchmarks/results/train-budget.jsonl
    # overfit check: 64 training molecules, validated on those same molecules
    .venv/bin/python benchmarks/train_budget.py --dataset bace --overfit 64 --lr 1e-3 --epochs 60 \\
        --batch-size 16 --schedule constant --out ...
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from mumo.eval.evaluate import evaluate_file
from mumo.plan import Plan
from mumo.train.recipes import FinetuneData, run_finetune
from mumo.train.training_log import TRAINING_LOG

SPLIT = "balanced_scaffold"


def chance_loss(train: np.ndarray, valid: np.ndarray, task_type: str) -> float:
    """Validation loss of a model that ignores the molecule: the train fold's class prior or mean."""
    train, valid = train[~np.isnan(train)], valid[~np.isnan(valid)]
    if task_type == "classification":
        prior = train.mean()
        return float(-np.mean(valid * np.log(prior) + (1 - valid) * np.log(1 - prior)))
    return float(np.mean(((valid - train.mean()) / train.std()) ** 2))


def overfit_split(split: dict, n: int, folder: Path) -> str:
    """`n` train molecules drawn at random (seed 0) as train, valid and test: the validation loss then shows what
    was learnt. Not the first `n`: a scaffold split lists its train fold by scaffold group, and BACE's first 64
    are all positives, which a bias alone fits."""
    rows = sorted(np.random.default_rng(0).choice(split["train"], size=n, replace=False).tolist())
    path = folder / "overfit.split.json"
    path.write_text(json.dumps({"train": rows, "valid": rows, "test": rows}))
    return str(path)


def gradient_norms(data: FinetuneData, settings: dict, pretrained: str | None, seed: int) -> dict[str, float]:
    """Gradient norm per part of the model after one backward pass on a train batch at initialisation: every
    part the loss should train must receive a gradient (a zero here would be a cut graph)."""
    import torch

    from mumo.chem.store import StructureStore
    from mumo.chem.tokenizer import SmilesTokenizer
    from mumo.train.data import MoleculeDataset
    from mumo.train.recipes import build_model, head_fields, supervised_loss
    from mumo.train.settings import TrainSettings

    s = TrainSettings.from_dict(settings)
    torch.manual_seed(seed)
    table = pd.read_csv(data.standardised_csv)
    rows = json.loads(Path(data.split_json).read_text())["train"][: s.batch_size]
    tokenizer = SmilesTokenizer.load(data.vocab_json)
    dataset = MoleculeDataset(
        table["canonical_smiles"].to_numpy()[rows],
        StructureStore(data.store_dir),
        tokenizer,
        1024,
        table[data.tasks].to_numpy(dtype=float)[rows],
    )
    model = build_model(s, tokenizer, head_fields(data.task_type, len(data.tasks)), pretrained)
    if model.target_scaler is not None:
        model.target_scaler.fit(dataset.labels)
    supervised_loss(model, dataset.batch(list(range(len(rows)))), torch.Generator()).backward()
    parts: dict[str, float] = {}
    for name, parameter in model.named_parameters():
        part = ".".join(name.split(".")[:3])
        norm = 0.0 if parameter.grad is None else parameter.grad.norm().item() ** 2
        parts[part] = parts.get(part, 0.0) + norm
    return {part: round(total**0.5, 6) for part, total in parts.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="config/config.yaml")
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0, help="training seed")
    parser.add_argument("--pretrained", default=None, help="a pretrained model folder; none: from scratch")
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--warmup-steps", type=int, default=10)
    parser.add_argument("--schedule", default="linear")
    parser.add_argument("--patience", type=int, default=None)
    parser.add_argument("--eval-every", type=int, default=None, help="steps; default once per epoch")
    parser.add_argument("--model", default="{}", help="MuMoConfig overrides as JSON")
    parser.add_argument("--overfit", type=int, default=None, help="train and validate on this many molecules")
    parser.add_argument("--gradients", action="store_true", help="print gradient norms per part and stop")
    parser.add_argument("--tag", default="")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    config = yaml.safe_load(Path(args.config).read_text())
    plan = Plan.from_config(config)
    dataset = plan.datasets[args.dataset].resolved
    table = plan.standardised(args.dataset)
    split_json = f"{plan.results}/data/splits/{args.dataset}/{SPLIT}/seed{args.split_seed}.json"
    settings = {
        **config["mumo"]["finetune"],
        "preset": config["mumo"]["preset"],
        "lr": args.lr,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "warmup_steps": args.warmup_steps,
        "schedule": args.schedule,
        "selection": "best_valid" if args.patience else "last",
        "patience": args.patience,
        "eval_every": args.eval_every,
        "model": json.loads(args.model),
    }
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.overfit:
            split_json = overfit_split(json.loads(Path(split_json).read_text()), args.overfit, work)
        data = FinetuneData(
            standardised_csv=table,
            split_json=split_json,
            store_dir=plan.table_shards(args.dataset, SPLIT),
            vocab_json=plan.vocab("mumo"),
            tasks=list(dataset.tasks),
            task_type=dataset.spec.task_type,
        )
        if args.gradients:
            print(json.dumps(gradient_norms(data, settings, args.pretrained, args.seed), indent=1))
            return
        cpu, wall = time.process_time(), time.perf_counter()
        run_finetune(
            data,
            seed=args.seed,
            settings=settings,
            out_predictions=str(work / "predictions.csv"),
            out_dir=str(work / "run"),
            pretrained_dir=args.pretrained,
        )
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        metrics = pd.read_csv(work / "run" / TRAINING_LOG)
        summary = json.loads((work / "run" / "summary.json").read_text())
        metric = dataset.spec.metrics[0]
        scores = evaluate_file(str(work / "predictions.csv"), [metric])
        valid_score = float(scores.loc[scores["fold"] == "valid", "value"].iloc[0])
        split = json.loads(Path(split_json).read_text())  # an overfit split lives in the temporary folder
    labels = pd.read_csv(table)[list(dataset.tasks)].to_numpy(dtype=float)[:, 0]
    epoch_index = np.ceil(metrics["epoch"].to_numpy() - 1e-9).astype(int)
    record = {
        "tag": args.tag,
        "dataset": args.dataset,
        "pretrained": args.pretrained is not None,
        "lr": args.lr,
        "max_epochs": args.epochs,
        "batch_size": args.batch_size,
        "warmup_steps": args.warmup_steps,
        "schedule": args.schedule,
        "patience": args.patience,
        "overfit": args.overfit,
        "model": json.loads(args.model),
        "seed": args.seed,
        "train_molecules": summary["train"],
        "steps": summary["steps"],
        "epochs_run": round(float(metrics["epoch"].iloc[-1]), 2),
        "best_step": summary["best_step"],
        "stopped_early": summary["stopped_early"],
        "cpu_s": round(cpu, 1),
        "wall_s": round(wall, 1),
        "chance_valid_loss": round(
            chance_loss(labels[split["train"]], labels[split["valid"]], dataset.spec.task_type), 4
        ),
        "valid_loss": [round(v, 4) for v in metrics["valid_loss"].dropna()],
        "train_loss_per_epoch": [round(v, 4) for v in metrics.groupby(epoch_index)["loss"].mean()],
        f"valid_{metric}": round(valid_score, 4),
        "load_average": os.getloadavg()[0],
    }
    with open(args.out, "a") as out:
        out.write(json.dumps(record) + "\n")
    print(json.dumps(record))


if __name__ == "__main__":
    main()
