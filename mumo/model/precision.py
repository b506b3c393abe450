"""The precision policy shared by training and prediction: fp32 weights, optionally bf16 autocast.

"bf16" runs forward and loss under `torch.autocast` (the paper's bf16 autocast), which needs no casting of
the integer/float inputs of a MolBatch; "auto" does so on CUDA only.
"""

from __future__ import annotations

import contextlib

import torch


def autocast(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast for precision "bf16", or "auto" on CUDA; a no-op context for fp32."""
    bf16 = precision == "bf16" or (precision == "auto" and device.type == "cuda")
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)
