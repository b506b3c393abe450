"""Start a `mumo` training command as N processes on one node: one per GPU, or N gloo processes on a CPU.

The pipeline's `pretrain` rule runs here: a SLURM job that was given 4 GPUs starts 4 ranks through torchrun
(`--standalone`: a rendezvous on a free local port, so two jobs on one node do not collide). With 1 process the
recipe runs in the calling process, without a launcher.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mumo.train.recipes import PretrainData, run_pretrain


def gpu_count(resources: Mapping[str, Any]) -> int:
    """GPUs a job asked for: its `gpu` resource, or the count at the end of a `gres` such as "gpu:a100:4"."""
    if int(resources.get("gpu", 0) or 0) > 0:
        return int(resources["gpu"])
    gres = str(resources.get("gres", "") or "")
    match = re.fullmatch(r"gpu(?::[\w.-]+)?:(\d+)", gres)
    if gres and not match:
        raise ValueError(f"cannot read a GPU count from gres {gres!r}; expected gpu:N or gpu:TYPE:N")
    return int(match.group(1)) if match else 0


def cli_command(args: list[str], processes: int = 1) -> list[str]:
    """The command line of `mumo ARGS`, under torchrun with `processes` ranks when there are several."""
    if processes <= 1:
        return [sys.executable, "-m", "mumo.cli", *args]
    torchrun = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={processes}",
    ]
    return [*torchrun, "-m", "mumo.cli", *args]


def launch_pretrain(
    data: PretrainData,
    out_dir: str,
    settings: dict,
    *,
    threads: int,
    processes: int,
    log_path: str | Path,
) -> None:
    """`run_pretrain` in `processes` ranks sharing `threads` CPU threads; their output is appended to `log_path`.

    Settings are per rank (a batch of `batch_size` on every rank, as the paper's "batch 128 per device").
    The ranks are given the store as `data` names it (the pipeline's: its shard files, each checked against
    the conformer settings) and those settings.
    """
    if processes <= 1:
        run_pretrain(data, out_dir, settings, threads=threads)
        return
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    settings_file = (
        out.parent / f"{out.name}.launch_settings.json"
    )  # beside the run's folder, which is its own
    settings_file.write_text(json.dumps(settings, indent=1))
    stores = [data.store] if isinstance(data.store, str) else list(data.store)
    conformer = [f"{key}={json.dumps(value)}" for key, value in (data.conformer or {}).items()]
    args = [
        "pretrain",
        f"--corpus={data.corpus_csv}",
        "--store",
        *stores,
        f"--vocab={data.vocab_json}",
        f"--output={out_dir}",
        f"--settings={settings_file}",
        f"--threads={max(1, threads // processes)}",
        *(["--conformer", *conformer] if conformer else []),
    ]
    command = cli_command(args, processes)
    with open(log_path, "a") as log:
        print(f"launching {processes} ranks: {' '.join(command)}", file=log, flush=True)
        done = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        raise RuntimeError(f"{processes}-rank pretraining failed (exit {done.returncode}); see {log_path}")
