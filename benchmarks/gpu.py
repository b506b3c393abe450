"""GPU measurement for the cost model (issue #15 item 4): what a training step of a preset costs per batch.

1. Batch sweep: training steps (forward, loss, backward, AdamW step) through the real DeepSpeed engine
   (`deepspeed.initialize` with mumo's own config, as mumo.train.engine builds it), on synthetic molecules of
   `--length` tokens and length/2 atoms, for each batch size and mode: `eager` (what training runs today),
   `compile` (torch.compile of the loss) and `cudagraphs` (torch.compile mode="reduce-overhead", CUDA only).
   A mode that fails is recorded with its error, not dropped. The first step's time is reported apart
   (compile time).
2. One finetune epoch on a real dataset (`mumo.train.recipes.run_finetune`: data loading, validation and
   prediction included), standardised, split and featurised here from a CSV.

Writes under --out, as gpu-<device>-<preset>: `.jsonl` (a machine line with GPU, torch, CUDA and DeepSpeed
versions, then one line per measurement), `.md`, and `-throughput.csv`: the eager rows in the format of
mumo/data/throughput.csv, for `mumo cost --throughput FILE` (or to be appended to that table).

    python benchmarks/gpu.py                 # on a GPU: paper preset, batches 1 4 32 128, bf16, all modes
    python benchmarks/gpu.py --smoke         # anywhere: tiny preset on CPU, batches 1 and 4, eager, seconds
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from mumo.apps.cost import THROUGHPUT_COLUMNS
from mumo.io import write_csv, write_text_atomic
from mumo.model import MuMo, get_preset
from mumo.model.precision import autocast
from mumo.model.synthetic import synthetic_batch
from mumo.train.engine import deepspeed_config, distributed, peak_memory_mb
from mumo.train.recipes import supervised_loss
from mumo.train.settings import TrainSettings

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests" / "fixtures" / "moleculenet" / "bbbp.csv"
MODES = ("eager", "compile", "cudagraphs")


def device_key(device: torch.device) -> str:
    """The device name the cost model's table uses: cpu, h100, a100, ... (else the GPU's name, slugged)."""
    if device.type == "cpu":
        return "cpu"
    name = torch.cuda.get_device_name(device).lower()
    known = re.search(r"\b([ahlbv]\d{2,3})\b", name)
    return known.group(1) if known else re.sub(r"[^a-z0-9]+", "_", name).strip("_")


def _cpu_name() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    names = [
        line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if "model name" in line
    ]
    return names[0] if names else platform.machine()


def machine(device: torch.device) -> dict:
    import deepspeed

    info = {
        "kind": "machine",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "deepspeed": deepspeed.__version__,
        "cpu": _cpu_name(),
        "load_average": [round(x, 1) for x in os.getloadavg()],
        "threads": torch.get_num_threads(),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
        info["compute_capability"] = ".".join(map(str, torch.cuda.get_device_capability(device)))
    return info


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def step_sweep(args: argparse.Namespace, dist, batch_size: int, mode: str) -> dict:
    """Median seconds of a DeepSpeed training step at `batch_size` in `mode`, after `--warmup` steps."""
    import deepspeed

    row = {"kind": "step", "preset": args.preset, "mode": mode, "batch_size": batch_size}
    row |= {"precision": args.precision, "length": args.length, "atoms": max(3, args.length // 2)}
    if mode == "cudagraphs" and dist.device.type != "cuda":
        return row | {"skipped": "CUDA graphs need a CUDA device"}
    settings = TrainSettings(preset=args.preset, batch_size=batch_size, precision=args.precision)
    torch.manual_seed(0)
    model = MuMo(get_preset(args.preset, head="regression", num_tasks=1)).to(dist.device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    engine, *_ = deepspeed.initialize(
        model=model, optimizer=optimizer, config=deepspeed_config(settings), dist_init_required=False
    )
    loss_fn = {
        "eager": supervised_loss,
        "compile": torch.compile(supervised_loss),
        "cudagraphs": torch.compile(supervised_loss, mode="reduce-overhead"),
    }[mode]
    rng = np.random.default_rng(0)
    batches = [synthetic_batch(rng, batch_size, args.length, row["atoms"]).to(dist.device) for _ in range(4)]
    if dist.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dist.device)
    times, cpu_times = [], []
    try:
        for i in range(args.warmup + args.steps):
            _sync(dist.device)
            tick, cpu_tick = time.perf_counter(), time.process_time()
            with autocast(args.precision, dist.device):
                loss = loss_fn(engine.module, batches[i % len(batches)], None)
            engine.backward(loss)
            engine.step()
            _sync(dist.device)
            times.append(time.perf_counter() - tick)
            cpu_times.append(time.process_time() - cpu_tick)
    except Exception as error:  # a mode that cannot run is a result too (e.g. a graph break under compile)
        return row | {"error": f"{type(error).__name__}: {error}".splitlines()[0], "steps_done": len(times)}
    finally:
        del engine, optimizer, model
        if dist.device.type == "cuda":
            torch.cuda.empty_cache()  # the next point's peak memory starts from an empty cache
    step_s, cpu_s = statistics.median(times[args.warmup :]), statistics.median(cpu_times[args.warmup :])
    return row | {
        "first_step_s": round(times[0], 3),
        "step_s": round(step_s, 5),
        "cpu_s": round(cpu_s, 5),  # process CPU time: on a shared CPU box steadier than the wall time
        "molecules_per_s": round(batch_size / step_s, 2),
        "molecules_per_cpu_s": round(batch_size / cpu_s, 2),
        "peak_memory_mb": round(peak_memory_mb(dist.device)),
    }


#: geometry quality does not change a step's cost: no explicit H, short force-field runs, few attempts
FAST_CONFORMERS = {"max_iters": 50, "add_hs_below_heavy_atoms": 0, "max_embed_attempts": 10}


def prepare_dataset(args: argparse.Namespace, root: Path) -> dict:
    """A real finetuning input: `--rows` molecules of `--data`, standardised, split 80/10/10, featurised."""
    from mumo.chem.conformer import ConformerConfig
    from mumo.chem.store import build_shard
    from mumo.chem.tokenizer import SmilesTokenizer
    from mumo.data.splits import make_split
    from mumo.data.standardise import standardise

    raw = pd.read_csv(args.data).head(args.rows).rename(columns={args.smiles_column: "smiles"})
    table = standardise(raw[["smiles", args.label]], [args.label], args.task_type, Path(args.data).stem).table
    table.to_csv(root / "table.csv", index=False)
    split = make_split(table, "random", 0, [0.8, 0.1, 0.1])
    (root / "split.json").write_text(json.dumps({"split": "random", "seed": 0, **split}))
    smiles = table["canonical_smiles"].tolist()
    build_shard(smiles, root / "store" / "shard.npz", ConformerConfig(**FAST_CONFORMERS), args.workers)
    SmilesTokenizer.build(smiles).save(root / "vocab.json")
    return {"molecules": len(table), **{fold: len(rows) for fold, rows in split.items()}}


def finetune_epoch(args: argparse.Namespace, root: Path, sizes: dict) -> dict:
    """Wall time of one `run_finetune` epoch (train, validation, prediction) and its training throughput."""
    from mumo.train.recipes import FinetuneData, run_finetune

    settings = {
        "preset": args.preset,
        "batch_size": args.finetune_batch,
        "epochs": 1,
        "precision": args.precision,
        "selection": "last",
        "num_workers": 0,
        "progress": False,
    }
    out = root / "finetune"
    tick = time.perf_counter()
    data = FinetuneData(
        str(root / "table.csv"),
        str(root / "split.json"),
        str(root / "store"),
        str(root / "vocab.json"),
        [args.label],
        args.task_type,
        conformer=FAST_CONFORMERS,  # the store's own settings: a store of other settings is refused
    )
    run_finetune(
        data, seed=0, settings=settings, out_predictions=str(out / "predictions.csv"), out_dir=str(out)
    )
    wall = time.perf_counter() - tick
    metrics = pd.read_csv(out / "training_log.csv")
    return {
        "kind": "finetune_epoch",
        "preset": args.preset,
        "data": Path(args.data).name,
        "batch_size": args.finetune_batch,
        "precision": args.precision,
        **sizes,
        "wall_s": round(wall, 2),
        "train_molecules_per_s": round(float(metrics["molecules_per_s"].median()), 2),
        "peak_memory_mb": round(float(metrics["peak_memory_mb"].max())),
    }


def throughput_rows(rows: list[dict], device: str, info: dict, report: str) -> pd.DataFrame:
    """The eager step rows as mumo/data/throughput.csv rows (the mode training runs in today). On CPU the rate
    is per process CPU-second with `threads` threads: wall time on a shared box measures the neighbours."""
    where = info.get("gpu", info["cpu"])
    source = (
        f"{report}: benchmarks/gpu.py on {where}, torch {info['torch']}, CUDA {info['cuda']}: DeepSpeed step"
    )
    rate = "molecules_per_s" if device != "cpu" else "molecules_per_cpu_s"
    if device == "cpu":
        source += f" per CPU-second ({info['threads']} thread(s))"
    eager = [r for r in rows if r["kind"] == "step" and r["mode"] == "eager" and "molecules_per_s" in r]
    return pd.DataFrame(
        [
            {
                "preset": r["preset"],
                "device": device,
                "batch_size": r["batch_size"],
                "precision": r["precision"],
                "molecules_per_s": r[rate],
                "source": f"{source}, synthetic molecules of {r['length']} tokens",
            }
            for r in eager
        ],
        columns=list(THROUGHPUT_COLUMNS),
    )


def markdown(rows: list[dict], info: dict, command: str) -> str:
    steps = pd.DataFrame([r for r in rows if r["kind"] == "step"]).drop(columns=["kind"])
    others = [r for r in rows if r["kind"] not in ("step", "machine")]
    lines = [
        f"# `benchmarks/gpu.py` on {info.get('gpu', 'CPU (' + info['cpu'] + ')')}",
        "",
        f"    {command}",
        "",
        f"torch {info['torch']}, CUDA {info['cuda']}, DeepSpeed {info['deepspeed']}, "
        f"Python {info['python']}; load average {info['load_average']}.",
        "",
        "## Training steps through the DeepSpeed engine (synthetic molecules)",
        "",
        "| " + " | ".join(steps.columns) + " |",
        "|" + "---|" * len(steps.columns),
        *("| " + " | ".join("" if pd.isna(v) else str(v) for v in r) + " |" for r in steps.itertuples(False)),
        "",
        "## One finetune epoch",
        "",
        *(f"    {json.dumps(r)}" for r in others),
    ]
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--smoke", action="store_true", help="tiny preset on CPU, small batches: a quick check"
    )
    parser.add_argument("--preset", help="default: paper (--smoke: tiny)")
    parser.add_argument("--batches", type=int, nargs="+", help="default: 1 4 32 128 (--smoke: 1 4)")
    parser.add_argument("--modes", nargs="+", choices=MODES, help="default: all (--smoke: eager)")
    parser.add_argument("--precision", help="bf16 | fp32; default: bf16 on CUDA, fp32 on CPU")
    parser.add_argument("--length", type=int, default=64, help="tokens per synthetic molecule")
    parser.add_argument("--steps", type=int, help="timed steps per point; default 20 (--smoke: 3)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first (compile happens here)")
    parser.add_argument(
        "--data", default=str(FIXTURE), help="CSV of the finetune epoch (default: the 203-row BBBP test cut)"
    )
    parser.add_argument("--smiles-column", default="smiles")
    parser.add_argument("--label", default="p_np")
    parser.add_argument("--task-type", default="classification")
    parser.add_argument("--rows", type=int, help="molecules of --data used; default all (--smoke: 40)")
    parser.add_argument("--finetune-batch", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1, help="processes for the structure stage")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    args = parser.parse_args(argv)
    cuda = not args.smoke and torch.cuda.is_available()  # --smoke hides the GPUs: CUDA is not touched
    defaults = {
        "preset": "tiny" if args.smoke else "paper",
        "batches": [1, 4] if args.smoke else [1, 4, 32, 128],
        "modes": ["eager"] if args.smoke else list(MODES),
        "precision": "bf16" if cuda else "fp32",
        "steps": 3 if args.smoke else 20,
        "rows": 40 if args.smoke else None,
    }
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.smoke:
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # before CUDA is touched: distributed() then picks the CPU
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    command = "python benchmarks/gpu.py " + " ".join(sys.argv[1:] if argv is None else argv)
    with distributed() as dist, tempfile.TemporaryDirectory(prefix="mumo-gpu-bench-") as tmp:
        device = device_key(dist.device)
        info = machine(dist.device)
        stem = out / f"gpu-{device}-{args.preset}"
        rows = [info]

        def record(row: dict) -> None:
            """Every result is written as soon as it exists: a run cut short by a time limit keeps them."""
            rows.append(row)
            print(json.dumps(row), flush=True)
            write_text_atomic(Path(f"{stem}.jsonl"), "".join(json.dumps(r) + "\n" for r in rows))
            write_text_atomic(Path(f"{stem}.md"), markdown(rows, info, command))
            report = f"benchmarks/results/{stem.name}.md"
            write_csv(throughput_rows(rows, device, info, report), f"{stem}-throughput.csv")

        for batch_size in args.batches:
            for mode in args.modes:
                record(step_sweep(args, dist, batch_size, mode))
        try:
            sizes = prepare_dataset(args, Path(tmp))
            record(finetune_epoch(args, Path(tmp), sizes))
        except Exception:  # recorded, so the sweep above is not lost
            record({"kind": "finetune_epoch", "error": traceback.format_exc(limit=3).splitlines()[-1]})
    print(f"wrote {stem}.jsonl, .md and -throughput.csv")


if __name__ == "__main__":
    main()
