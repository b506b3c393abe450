"""Throughput of the model's Mamba paths; prints one JSON object per line.

CPU: forward+backward of a Mamba stack (Embedding → n × MambaBlock → RMSNorm, the `--preset` widths) with
  (1) the sequential reference scan, (2) the fast chunked pure-PyTorch scan, and (3) the peer
  `transformers.MambaModel` at the same d_model / layers / d_state / d_inner / dt_rank on its CPU path;
  plus the whole MuMo model of the preset on the fast path.
CUDA (when available): the `paper` model under bf16 autocast, pure-PyTorch path vs the mamba-ssm /
  causal-conv1d kernels: molecules/s and peak memory.

    .venv/bin/python benchmarks/model.py --quick
    .venv/bin/python benchmarks/model.py --lengths 64 128 --batch-sizes 8 32 --repeats 3
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os
import platform
import statistics
import time

import numpy as np
import torch
from torch import nn

from mumo.model import MuMo, get_preset, kernels
from mumo.model.mamba import MambaBlock, RMSNorm
from mumo.model.synthetic import synthetic_batch


class MambaStack(nn.Module):
    """The sequence backbone alone, shaped like transformers.MambaModel (embedding, blocks, final norm)."""

    def __init__(self, config, layers: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(config.vocab_size, config.hidden_size)
        self.blocks = nn.ModuleList(MambaBlock(config) for _ in range(layers))
        self.norm = RMSNorm(config.hidden_size, eps=1e-6)

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = self.embedding(tokens)
        for block in self.blocks:
            h = block(h, mask)
        return self.norm(h)


def peer_model(config, layers: int) -> nn.Module:
    from transformers import MambaConfig, MambaModel
    from transformers.utils import logging

    logging.set_verbosity_error()  # it logs its fallback to the reference scan on every call
    if config.d_inner % config.hidden_size:
        raise ValueError("transformers.MambaModel needs d_inner to be a multiple of hidden_size")
    peer = MambaConfig(
        vocab_size=config.vocab_size,
        hidden_size=config.hidden_size,
        state_size=config.d_state,
        num_hidden_layers=layers,
        expand=config.d_inner // config.hidden_size,
        conv_kernel=config.d_conv,
        time_step_rank=config.dt_rank,
        use_bias=False,
        use_conv_bias=True,
        residual_in_fp32=True,
    )
    model = MambaModel(peer)
    return _Wrapped(model)


class _Wrapped(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=tokens).last_hidden_state


def forward_backward(model: nn.Module, forward, device: torch.device, dtype: torch.dtype | None) -> None:
    model.zero_grad(set_to_none=True)
    with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
        out = forward()
    out.float().pow(2).mean().backward()


def time_fwd_bwd(model, forward, repeats: int, device: torch.device, dtype=None) -> list[tuple[float, float]]:
    """(wall, process CPU) seconds of `repeats` forward + backward passes after one warm-up pass.

    CPU time is reported too because the machines this runs on are shared: wall time includes waiting.
    """
    times = []
    for i in range(repeats + 1):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start, start_cpu = time.perf_counter(), time.process_time()
        forward_backward(model, forward, device, dtype)
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i:
            times.append((time.perf_counter() - start, time.process_time() - start_cpu))
    return times


def record(**fields) -> None:
    print(json.dumps(fields), flush=True)


def summary(times: list[tuple[float, float]], batch: int) -> dict:
    wall = [t for t, _ in times]
    return {
        "seconds_min": round(min(wall), 5),
        "seconds_median": round(statistics.median(wall), 5),
        "cpu_seconds_min": round(min(c for _, c in times), 5),
        "molecules_per_s": round(batch / min(wall), 2),
    }


def machine_info() -> dict:
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {
        "kind": "machine",
        "cpu": cpu,
        "nproc": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "mamba_ssm_kernel": kernels.cuda_selective_scan_fn is not None,
        "causal_conv1d_kernel": kernels.cuda_causal_conv1d_fn is not None,
    }


def bench_cpu(args: argparse.Namespace) -> None:
    config = get_preset(args.preset)
    device = torch.device("cpu")
    makers = {
        "ref": lambda: MambaStack(dataclasses.replace(config, kernel_impl="ref"), args.layers),
        "torch": lambda: MambaStack(dataclasses.replace(config, kernel_impl="torch"), args.layers),
        "transformers": lambda: peer_model(config, args.layers),
    }
    for length in args.lengths:
        for batch_size in args.batch_sizes:
            tokens = torch.randint(4, config.vocab_size - 3, (batch_size, length))
            mask = torch.ones_like(tokens, dtype=torch.bool)
            for name in args.impls:
                torch.manual_seed(0)
                model = makers[name]()
                times = time_fwd_bwd(model, functools.partial(model, tokens, mask), args.repeats, device)
                record(
                    kind="mamba_stack",
                    impl=name,
                    device="cpu",
                    length=length,
                    batch=batch_size,
                    layers=args.layers,
                    hidden=config.hidden_size,
                    d_inner=config.d_inner,
                    d_state=config.d_state,
                    dt_rank=config.dt_rank,
                    parameters=sum(p.numel() for p in model.parameters()),
                    **summary(times, batch_size),
                )
            bench_mumo(args.preset, "torch", batch_size, length, args.repeats, device, dtype=None)


def bench_mumo(preset: str, impl: str, batch_size: int, length: int, repeats: int, device, dtype) -> None:
    """Forward + backward of the whole model with its pretraining head on a synthetic batch."""
    torch.manual_seed(0)
    model = MuMo(get_preset(preset, kernel_impl=impl)).to(device)
    batch = synthetic_batch(np.random.default_rng(0), batch_size, length, n_atoms=max(3, length // 2)).to(
        device
    )
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times = time_fwd_bwd(model, functools.partial(model, batch), repeats, device, dtype)
    peak = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else None
    record(
        kind="mumo",
        preset=preset,
        impl=impl,
        device=str(device),
        dtype=str(dtype or torch.float32).removeprefix("torch."),
        length=length,
        batch=batch_size,
        atoms_per_molecule=max(3, length // 2),
        peak_memory_gib=None if peak is None else round(peak, 2),
        **summary(times, batch_size),
    )


def bench_cuda(args: argparse.Namespace) -> None:
    device = torch.device("cuda")
    for impl in ("torch", "cuda"):
        if impl == "cuda" and (
            kernels.cuda_selective_scan_fn is None or kernels.cuda_causal_conv1d_fn is None
        ):
            record(
                kind="mumo",
                preset="paper",
                impl="cuda",
                skipped="mamba-ssm / causal-conv1d kernels not importable",
            )
            continue
        for length in args.gpu_lengths:
            bench_mumo("paper", impl, args.gpu_batch, length, args.repeats, device, torch.bfloat16)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lengths", type=int, nargs="+", default=[64, 128], help="SMILES token lengths")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--layers", type=int, default=4, help="Mamba blocks in the CPU stack")
    parser.add_argument("--preset", default="small", help="widths of the CPU stack and the CPU MuMo model")
    parser.add_argument("--impls", nargs="+", default=["ref", "torch", "transformers"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--gpu-batch", type=int, default=32)
    parser.add_argument("--gpu-lengths", type=int, nargs="+", default=[128])
    parser.add_argument("--no-cpu", action="store_true", help="skip the CPU part")
    parser.add_argument("--quick", action="store_true", help="one small configuration, one repeat")
    args = parser.parse_args(argv)
    if args.quick:
        args.lengths, args.batch_sizes, args.layers, args.repeats = [64], [8], 2, 1
        args.gpu_batch, args.gpu_lengths = 8, [64]
    if args.threads:
        torch.set_num_threads(args.threads)
    record(**machine_info())
    if not args.no_cpu:
        bench_cpu(args)
    if torch.cuda.is_available():
        bench_cuda(args)


if __name__ == "__main__":
    main()
