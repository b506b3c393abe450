"""Eager vs compiled training step on CPU (issue #15 item 2): step time, compile time, operators per step.

One run, one process, `--threads` torch threads (1 by default: the 2-core box is shared). For each batch
size: a `small` classification model trains on one synthetic batch (molecules of 12-36 atoms, about 1.6
tokens per atom, as in the MoleculeNet tables) with a plain PyTorch step: forward and loss, backward, AdamW
(the optimizer mumo's engine hands DeepSpeed). `eager` is the model as trained today; `compiled` is the same
model after `mumo.model.compile.maybe_compile` (inductor, fullgraph, bucketed static shapes; the loss and the
optimizer stay eager, as in the engine); `compiled_optim` compiles the optimizer step too. Reported per mode:
median wall and process-CPU seconds of a step (after warm-up; on a shared box CPU time is the steadier
figure), the first step (the compile, for `compiled`; `compiled_foreach` and `compiled_optim` reuse the
model's code from inductor's cache, a fresh directory per run), and the profiler's operator counts of one
step by phase: every `aten::` call and the top-level calls dispatched from outside any other operator
(`count_ops`).

    .venv/bin/python benchmarks/compile.py                       # small preset, batches 1 4 32
    .venv/bin/python benchmarks/compile.py --preset tiny --batches 2 --steps 2   # a quick check

Writes --out/compile-cpu.jsonl (a machine line, then one line per batch size and mode) and compile-cpu.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from gpu import machine  # benchmarks/gpu.py: CPU name, versions, load average, threads
from torch.profiler import ProfilerActivity, profile

from mumo.io import write_text_atomic
from mumo.model import MuMo, collate, get_preset
from mumo.model.buckets import pad_to_buckets
from mumo.model.compile import maybe_compile
from mumo.model.selective_scan import selective_scan_chunked
from mumo.model.synthetic import synthetic_record, synthetic_tokens
from mumo.train.recipes import supervised_loss

#: model × optimizer: AdamW's default on CPU is its per-tensor loop; foreach=True batches the parameters;
#: compiled_optim also compiles the (foreach) optimizer step
MODES = ("eager", "eager_foreach", "compiled", "compiled_foreach", "compiled_optim")
PHASES = ("forward_loss", "backward", "optimizer")
#: library matrix products: the same calls, eager or compiled
MATMUL_OPS = {"aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm", "aten::addmv", "aten::mv"}
#: the eager selective scan's autograd Function, forward and backward (mumo.model.selective_scan)
SCAN_EVENTS = {"_ChunkedScan", "_ChunkedScanBackward"}


def molecule_batch(rng: np.random.Generator, batch_size: int):
    atoms = rng.integers(12, 37, size=batch_size)
    return collate(
        [synthetic_tokens(rng, int(1.6 * n) + 2) for n in atoms],
        [synthetic_record(rng, int(n)) for n in atoms],
        labels=rng.integers(2, size=batch_size).astype(np.float32),
    )


def count_ops(prof) -> tuple[int, int]:
    """(all aten:: calls, dispatched aten:: calls) of one profiler run.

    Dispatched: not called from inside another aten op, i.e. launched by Python, autograd, the optimizer
    or a compiled graph; the rest are the insides of composite ops (linear → t, addmm). Inductor's own
    fused C++ kernels are not aten ops and appear in neither count.
    """
    aten = [e for e in prof.events() if e.name.startswith("aten::")]
    dispatched = [e for e in aten if e.cpu_parent is None or not e.cpu_parent.name.startswith("aten::")]
    return len(aten), len(dispatched)


def time_shares(profiles: dict) -> dict[str, float]:
    """Shares of one step's profiled self-CPU time: matrix products (outside the scan), the selective scan
    (eager: its Function's forward and backward, inclusive), the optimizer phase; "other" is the rest."""
    total = {phase: sum(e.self_cpu_time_total for e in prof.events()) for phase, prof in profiles.items()}
    scan = matmul = 0.0
    for phase in ("forward_loss", "backward"):
        for event in profiles[phase].events():
            if event.name in SCAN_EVENTS:
                scan += event.cpu_time_total
            elif event.name in MATMUL_OPS and not _inside(event, SCAN_EVENTS):
                matmul += event.self_cpu_time_total
    step = sum(total.values())
    shares = {"matmul": matmul / step, "scan": scan / step, "optimizer": total["optimizer"] / step}
    return {k: round(v, 3) for k, v in shares.items()} | {"other": round(1 - sum(shares.values()), 3)}


def _inside(event, names: set[str]) -> bool:
    while event.cpu_parent is not None:
        event = event.cpu_parent
        if event.name in names:
            return True
    return False


def measure(args: argparse.Namespace, batch, mode: str) -> dict:
    torch.manual_seed(0)
    model = MuMo(get_preset(args.preset, head="classification")).train()
    if mode.startswith("compiled"):
        maybe_compile(model, True)
        torch._dynamo.reset()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, foreach=mode.endswith(("foreach", "optim")))
    optimizer_step = torch.compile(optimizer.step) if mode == "compiled_optim" else optimizer.step

    def phases():
        loss = supervised_loss(model, batch, None)
        yield loss
        optimizer.zero_grad()
        loss.backward()
        yield None
        optimizer_step()
        yield None

    walls, cpus, first_loss = [], [], None
    for _ in range(1 + args.warmup + args.steps):
        tick, cpu_tick = time.perf_counter(), time.process_time()
        for value in phases():
            first_loss = value.item() if first_loss is None and value is not None else first_loss
        walls.append(time.perf_counter() - tick)
        cpus.append(time.process_time() - cpu_tick)
    profiles = {}
    steps = phases()
    for phase in PHASES:
        with profile(activities=[ProfilerActivity.CPU]) as profiles[phase]:
            next(steps)
    ops = {phase: count_ops(prof) for phase, prof in profiles.items()}
    timed = slice(1 + args.warmup, None)
    return {
        "kind": "step",
        "preset": args.preset,
        "mode": mode,
        "batch_size": batch.batch_size,
        "first_step_s": round(walls[0], 3),
        "step_s": round(statistics.median(walls[timed]), 5),
        "cpu_s": round(statistics.median(cpus[timed]), 5),
        "steps": args.steps,
        "first_loss": first_loss,
        "aten_ops": sum(ops[p][0] for p in PHASES),
        "dispatched_ops": sum(ops[p][1] for p in PHASES),
        **{f"{p}_ops": ops[p][1] for p in PHASES},
        "time_shares": time_shares(profiles),
    }


def measure_scan(args: argparse.Namespace, batch_size: int, length: int) -> list[dict]:
    """One Mamba layer's selective scan, forward and backward, eager vs compiled, at the model's sizes."""
    config = get_preset(args.preset)
    generator = torch.Generator().manual_seed(0)
    dim, state = config.d_inner, config.d_state

    def leaf(*shape: int, scale: float = 1.0) -> torch.Tensor:
        return (torch.randn(*shape, generator=generator) * scale).requires_grad_()

    u, delta, z = (
        leaf(batch_size, dim, length),
        leaf(batch_size, dim, length, scale=0.5),
        leaf(batch_size, dim, length),
    )
    A, B, C = leaf(dim, state), leaf(batch_size, state, length), leaf(batch_size, state, length)
    rows = []
    for mode, scan in (
        ("eager", lambda *a: selective_scan_chunked(*a, delta_softplus=True, functional=False)),
        (
            "compiled",
            torch.compile(lambda *a: selective_scan_chunked(*a, delta_softplus=True), fullgraph=True),
        ),
    ):
        walls, cpus = [], []
        for _ in range(1 + args.warmup + args.steps):
            tick, cpu_tick = time.perf_counter(), time.process_time()
            scan(u, delta, -A.exp(), B, C, None, z).sum().backward()
            walls.append(time.perf_counter() - tick)
            cpus.append(time.process_time() - cpu_tick)
        rows.append(
            {
                "kind": "scan",
                "preset": args.preset,
                "mode": mode,
                "batch_size": batch_size,
                "shape": [batch_size, dim, length, state],
                "first_s": round(walls[0], 3),
                "cpu_s": round(statistics.median(cpus[1 + args.warmup :]), 5),
            }
        )
    return rows


def shapes(batch, preset: str) -> dict:
    """Raw and bucketed sizes of a batch: tokens per molecule, atoms, bonds, angles."""
    padded = pad_to_buckets(batch, get_preset(preset))
    return {
        name: [getattr(b, key).shape[dim] for b in (batch, padded)]
        for name, key, dim in (
            ("length", "tokens", 1),
            ("atoms", "x", 0),
            ("bonds", "edge_index", 1),
            ("angles", "ba_edge_index", 1),
        )
    }


def markdown(info: dict, all_rows: list[dict], command: str) -> str:
    rows = [r for r in all_rows if r["kind"] == "step"]
    scans = [r for r in all_rows if r["kind"] == "scan"]
    lines = [
        f"# Eager vs compiled training step on CPU ({info['cpu']})",
        "",
        f"    {command}",
        "",
        f"torch {info['torch']}, Python {info['python']}, {info['threads']} torch thread(s) on "
        f"{info['nproc']} cores; load average before the run {info['load_average']}, after "
        f"{info['load_average_after']} (the box is shared: wall times include waiting for a core, CPU time does not).",
        "",
        "| batch | sizes raw → bucketed | mode | first step s | step s (wall) | step s (CPU) | aten ops "
        "| dispatched ops | of which fwd+loss / bwd / optim |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        sizes = ", ".join(f"{k} {a}→{b}" for k, (a, b) in row["sizes"].items())
        lines.append(
            f"| {row['batch_size']} | {sizes} | {row['mode']} | {row['first_step_s']} | {row['step_s']} "
            f"| {row['cpu_s']} | {row['aten_ops']} | {row['dispatched_ops']} "
            f"| {row['forward_loss_ops']} / {row['backward_ops']} / {row['optimizer_ops']} |"
        )
    lines += [
        "",
        "Speed-up over `eager` (median step times):",
        "",
        "| batch | mode | speed-up (wall) | speed-up (CPU) | first step − step, s (the compile) |",
        "|---|---|---|---|---|",
    ]
    shares_header = [
        "",
        "Where a step's time goes (shares of the profiled self-CPU time of one step; the scan is eager's "
        "`_ChunkedScan` forward and backward; compiled, it is inside inductor's kernels and counted as other). "
        "Bound: 1 / (matmul + scan) of `eager`, the speed-up if compiling made everything else free:",
        "",
        "| batch | mode | matmul | scan | optimizer | other | bound |",
        "|---|---|---|---|---|---|---|",
    ]
    shares_rows = []
    by_key = {(r["batch_size"], r["mode"]): r for r in rows}
    for batch_size in sorted({r["batch_size"] for r in rows}):
        eager = by_key[batch_size, "eager"]
        for mode in MODES[1:]:
            other = by_key[batch_size, mode]
            lines.append(
                f"| {batch_size} | {mode} | {eager['step_s'] / other['step_s']:.2f}× "
                f"| {eager['cpu_s'] / other['cpu_s']:.2f}× | {other['first_step_s'] - other['step_s']:.1f} |"
            )
        for mode in MODES:
            shares = by_key[batch_size, mode]["time_shares"]
            bound = f"{1 / (shares['matmul'] + shares['scan']):.2f}×" if mode == "eager" else ""
            shares_rows.append(
                f"| {batch_size} | {mode} | {shares['matmul']:.0%} | {shares['scan']:.0%} "
                f"| {shares['optimizer']:.0%} | {shares['other']:.0%} | {bound} |"
            )
    scan_lines = [
        "",
        "The selective scan alone (one Mamba layer, forward and backward, process CPU time; first call "
        "includes the compile):",
        "",
        "| batch | shape (batch, dim, length, state) | mode | first call s (wall) | step s (CPU) |",
        "|---|---|---|---|---|",
    ] + [
        f"| {r['batch_size']} | {tuple(r['shape'])} | {r['mode']} | {r['first_s']} | {r['cpu_s']} |"
        for r in scans
    ]
    return "\n".join(lines + shares_header + shares_rows + scan_lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="small")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 4, 32])
    parser.add_argument("--steps", type=int, default=10, help="timed steps per batch size and mode")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps after the first")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    # a cold compile cache: the first compiled mode's first step is the full compile time
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="mumo-inductor-")
    info = machine(torch.device("cpu")) | {"nproc": len(os.sched_getaffinity(0))}
    rng = np.random.default_rng(0)
    rows = []
    for batch_size in args.batches:
        batch = molecule_batch(rng, batch_size)
        sizes = shapes(batch, args.preset)
        for mode in MODES:
            row = measure(args, batch, mode) | {"sizes": sizes}
            print(json.dumps(row), flush=True)
            rows.append(row)
        for row in measure_scan(args, batch_size, length=sizes["length"][1]):
            print(json.dumps(row), flush=True)
            rows.append(row)
    info["load_average_after"] = machine(torch.device("cpu"))["load_average"]
    command = "python benchmarks/compile.py " + " ".join(argv if argv is not None else sys.argv[1:])
    stem = args.out / f"compile-cpu{'' if args.preset == 'small' else '-' + args.preset}"
    write_text_atomic(stem.with_suffix(".jsonl"), "".join(json.dumps(r) + "\n" for r in [info, *rows]))
    write_text_atomic(stem.with_suffix(".md"), markdown(info, rows, command.strip()))


if __name__ == "__main__":
    main()
