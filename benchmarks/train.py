"""Training throughput of the engine: molecules/s, tokens/s, peak memory and the data-loading share of a step.

Each configuration is a real `mumo finetune` run in a subprocess (under torchrun for several processes), cut
at `--steps` optimizer steps; the figures are medians over its `training_log.csv` rows after `--skip` warm-up
steps. Peak memory is the peak RSS of rank 0 on CPU, torch's peak allocation on CUDA.

    # CPU: 1 process (2 threads / 1 thread, with and without a DataLoader worker), 2 processes (gloo)
    .venv/bin/python benchmarks/train.py --table results/data/standardised/bace.csv \\
        --split results/data/splits/bace/balanced_scaffold/seed0.json --store STORE --vocab VOCAB
    # one GPU, the paper's model under bf16 autocast (add --nproc 1 2 4 8 for several GPUs)
    .venv/bin/python benchmarks/train.py --device cuda --preset paper --batch-size 128 ...
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch


def machine() -> dict:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    import deepspeed

    info = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "deepspeed": deepspeed.__version__,
        "load_average": os.getloadavg(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
    return info


def run(args: argparse.Namespace, processes: int, threads: int, workers: int, out: Path) -> dict:
    """One `mumo finetune` of `args.steps` steps; throughput figures from its training_log.csv."""
    settings = {
        "preset": args.preset,
        "batch_size": args.batch_size,
        "max_steps": args.steps,
        "selection": "last",
        "eval_every": 10**9,
        "checkpoint_every": 10**9,
        "num_workers": workers,
        "zero_stage": args.zero_stage,
        "progress": False,
    }
    out.mkdir(parents=True)
    (out / "settings.json").write_text(json.dumps(settings))
    command = [
        "finetune",
        f"--table={args.table}",
        f"--split={args.split}",
        f"--store={args.store}",
        f"--vocab={args.vocab}",
        "--target-columns",
        *args.tasks,
        f"--task-type={args.task_type}",
        f"--predictions={out / 'predictions.csv'}",
        f"--output={out}",
        f"--settings={out / 'settings.json'}",
        f"--threads={threads}",
    ]
    launcher = [sys.executable, "-m", "mumo.cli"]
    if processes > 1:
        launcher = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            f"--nproc_per_node={processes}",
        ]
        launcher += ["-m", "mumo.cli"]
    env = os.environ | ({"CUDA_VISIBLE_DEVICES": ""} if args.device == "cpu" else {})
    started = time.perf_counter()
    done = subprocess.run([*launcher, *command], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout[-2000:]}{done.stderr[-4000:]}")
    metrics = pd.read_csv(out / "training_log.csv").iloc[args.skip :]
    step_s = metrics["elapsed_s"].diff().median()
    return {
        "device": args.device,
        "preset": args.preset,
        "batch_size": args.batch_size,
        "processes": processes,
        "threads_per_process": threads,
        "loader_workers": workers,
        "molecules_per_s": round(metrics["molecules_per_s"].median(), 1),
        "tokens_per_s": round(metrics["tokens_per_s"].median()),
        "step_s": round(step_s, 3),
        "data_fraction": round(metrics["data_fraction"].median(), 4),
        "peak_memory_mb": round(metrics["peak_memory_mb"].max()),
        "run_wall_s": round(wall, 1),
    }


def markdown(rows: list[dict]) -> str:
    frame = pd.DataFrame(rows).drop(columns=["device", "preset", "batch_size"])
    header = "| " + " | ".join(frame.columns) + " |\n|" + "---|" * len(frame.columns) + "\n"
    return header + "".join(
        "| " + " | ".join(map(str, row)) + " |\n" for row in frame.itertuples(index=False)
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--table", required=True, help="standardised CSV")
    parser.add_argument("--split", required=True, help="split JSON")
    parser.add_argument("--store", required=True, help="structure store covering the table")
    parser.add_argument("--vocab", required=True)
    parser.add_argument(
        "--tasks",
        nargs="+",
        default=["Class"],
        metavar="COLUMN",
        help="label columns (a name may hold commas)",
    )
    parser.add_argument("--task-type", default="classification")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--preset", default="small")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--skip", type=int, default=3, help="warm-up steps left out of the medians")
    parser.add_argument("--zero-stage", type=int, default=0, choices=[0, 2])
    parser.add_argument("--nproc", type=int, nargs="+", help="process counts (default CPU: 1 and 2; CUDA: 1)")
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device visible")

    if args.device == "cpu":
        cores = os.cpu_count() or 1
        configs = [(1, cores, 1), (1, 1, 1), (1, 1, 0)] + [
            (n, max(1, cores // n), 1) for n in args.nproc or [2]
        ]
    else:
        configs = [(n, 4, 2) for n in args.nproc or [1]]
    print(json.dumps({"machine": machine()}), flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="mumo-bench-train-") as tmp:
        for i, (processes, threads, workers) in enumerate(configs):
            rows.append(run(args, processes, threads, workers, Path(tmp) / str(i)))
            print(json.dumps(rows[-1]), flush=True)
    print(json.dumps({"load_average_after": os.getloadavg()}))
    print(markdown(rows))


if __name__ == "__main__":
    main()
