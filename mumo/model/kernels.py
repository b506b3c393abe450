"""Optional CUDA kernels (mamba-ssm, causal-conv1d) and the choice between them and pure PyTorch.

Both packages install without their compiled extensions on CPU machines and then fail at import time
(`import mamba_ssm` dies on `import selective_scan_cuda`), so every
import is guarded with `except Exception`: importing mumo must never fail because of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch

Impl = Literal["ref", "torch", "cuda"]
IMPLS: tuple[str, ...] = ("ref", "torch", "cuda")

try:
    from mamba_ssm.ops.selective_scan_interface import selective_scan_fn as cuda_selective_scan_fn
except Exception:  # kernel-less installs raise ModuleNotFoundError, broken CUDA setups other errors
    cuda_selective_scan_fn = None

try:
    from causal_conv1d import causal_conv1d_fn as cuda_causal_conv1d_fn
except Exception:
    cuda_causal_conv1d_fn = None


def resolve_impl(impl: str | None, x: torch.Tensor, kernel: Callable | None, name: str) -> str:
    """The path to run: `impl` if given, else "cuda" when the kernel imported and `x` is on CUDA, else "torch"."""
    if impl is None:
        return "cuda" if kernel is not None and x.is_cuda else "torch"
    if impl not in IMPLS:
        raise ValueError(f"unknown impl {impl!r} for {name}; valid: {', '.join(IMPLS)}")
    if impl == "cuda":
        if kernel is None:
            raise RuntimeError(
                f"impl='cuda' for {name} needs the CUDA kernel package "
                f"({'mamba-ssm' if name == 'selective_scan' else 'causal-conv1d'}) built with its extension; "
                "it did not import. Install it on a GPU machine (pip install .[gpu]) or use impl='torch'."
            )
        if not x.is_cuda:
            raise RuntimeError(f"impl='cuda' for {name} needs CUDA tensors, got device {x.device}")
    return impl
