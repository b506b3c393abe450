"""Depthwise causal convolution of the Mamba mixer: a readable reference, F.conv1d, and causal-conv1d's kernel.

Shapes follow `causal_conv1d_fn`: x (batch, dim, length), weight (dim, width), bias (dim,);
y_t = bias + sum_j weight[:, j] * x_{t - width + 1 + j}, with x_{<0} = 0, optionally followed by SiLU.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from mumo.model.kernels import cuda_causal_conv1d_fn, resolve_impl

ACTIVATIONS = (None, "silu", "swish")


def causal_conv1d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    activation: str | None = None,
    *,
    impl: str | None = None,
) -> Tensor:
    """Causal depthwise conv on the best available path (kernel on CUDA if it imports, else F.conv1d).

    `impl` forces "ref" (sum of shifted copies), "torch" (F.conv1d with left padding) or "cuda".
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    impl = resolve_impl(impl, x, cuda_causal_conv1d_fn, "causal_conv1d")
    if impl == "cuda":
        return cuda_causal_conv1d_fn(x, weight, bias, activation=activation)
    y = (causal_conv1d_ref if impl == "ref" else _causal_conv1d_torch)(x, weight, bias)
    return F.silu(y) if activation else y


def causal_conv1d_ref(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """Reference: the definition, as a sum over the kernel taps of right-shifted copies of x."""
    width, length = weight.shape[1], x.shape[2]
    padded = F.pad(x, (width - 1, 0))
    y = sum(weight[:, j, None] * padded[:, :, j : j + length] for j in range(width))
    return y if bias is None else y + bias[:, None]


def _causal_conv1d_torch(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    return F.conv1d(F.pad(x, (weight.shape[1] - 1, 0)), weight.unsqueeze(1), bias, groups=x.shape[1])
