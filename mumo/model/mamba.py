"""Mamba-1 block (docs/model.md §2.2): `h + Mixer(RMSNorm(h))`, after mamba_ssm's modules/mamba_simple.py.

The mixer has one set of weights and picks its kernels per call (`mumo.model.kernels`): mamba-ssm and
causal-conv1d on CUDA when they import, pure PyTorch otherwise.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from mumo.model.causal_conv import causal_conv1d
from mumo.model.config import MuMoConfig
from mumo.model.selective_scan import selective_scan


class RMSNorm(nn.Module):
    """x / rms(x) · weight, computed in fp32 and returned in the input's dtype."""

    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        x32 = x.float()
        y = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight.float()
        return y.to(x.dtype)


class MambaMixer(nn.Module):
    """in_proj → (x, z); x: causal depthwise conv + SiLU → x_proj → (Δ, B, C) → selective scan; gate SiLU(z)."""

    def __init__(self, config: MuMoConfig) -> None:
        super().__init__()
        d_inner, d_state = config.d_inner, config.d_state
        self.dt_rank, self.d_state, self.impl = config.dt_rank, d_state, config.kernel_impl
        self.ignores_pad_in_training = config.mamba_ignores_pad_in_training
        self.in_proj = nn.Linear(config.hidden_size, 2 * d_inner, bias=False)
        # nn.Conv1d only holds the (d_inner, 1, width) weight, as in mamba_simple; causal_conv1d applies it
        self.conv1d = nn.Conv1d(d_inner, d_inner, config.d_conv, groups=d_inner, padding=config.d_conv - 1)
        self.x_proj = nn.Linear(d_inner, config.dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(config.dt_rank, d_inner, bias=True)
        self.A_log = nn.Parameter(
            torch.log(torch.arange(1, d_state + 1, dtype=torch.float32)).repeat(d_inner, 1)
        )
        self.D = nn.Parameter(torch.ones(d_inner))
        self.out_proj = nn.Linear(d_inner, config.hidden_size, bias=False)
        if config.init == "mamba":
            self.reset_dt_mamba(config)

    @torch.no_grad()
    def reset_dt_mamba(self, config: MuMoConfig) -> None:
        """Mamba-paper Δ init: weight U(±dt_rank^-0.5); bias = softplus⁻¹(Δ), Δ log-uniform in [dt_min, dt_max]."""
        nn.init.uniform_(self.dt_proj.weight, -(config.dt_rank**-0.5), config.dt_rank**-0.5)
        log_min, log_max = math.log(config.dt_min), math.log(config.dt_max)
        dt = torch.exp(torch.rand_like(self.dt_proj.bias) * (log_max - log_min) + log_min)
        dt = dt.clamp(min=config.dt_init_floor)
        self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))

    def forward(self, hidden: Tensor, mask: Tensor | None = None) -> Tensor:
        """hidden [B, L, H], mask [B, L] (True on real tokens) → [B, L, H]. Pads are zeroed around the conv,
        except in training mode under the `mamba_ignores_pad_in_training` quirk, which ignores the mask."""
        x, z = self.in_proj(hidden).chunk(2, dim=-1)
        x, z = x.transpose(1, 2), z.transpose(1, 2)  # (B, d_inner, L): the kernels' layout, as views
        if self.training and self.ignores_pad_in_training:
            mask = None
        keep = None if mask is None else mask[:, None, :].to(x.dtype)
        if keep is not None:
            x = x * keep
        x = causal_conv1d(x, self.conv1d.weight.squeeze(1), self.conv1d.bias, "silu", impl=self.impl)
        if keep is not None:
            x = x * keep
        dt, B, C = self.x_proj(x.transpose(1, 2)).split([self.dt_rank, self.d_state, self.d_state], dim=-1)
        dt = self.dt_proj.weight @ dt.transpose(1, 2)  # Δ bias and softplus are applied inside the scan
        y = selective_scan(
            x,
            dt,
            -torch.exp(self.A_log.float()),
            B.transpose(1, 2),
            C.transpose(1, 2),
            self.D.float(),
            z=z,
            delta_bias=self.dt_proj.bias.float(),
            delta_softplus=True,
            impl=self.impl,
        )
        return self.out_proj(y.transpose(1, 2))


class MambaBlock(nn.Module):
    """h + Mixer(RMSNorm_ε=1e-8(h)), the residual added in fp32."""

    def __init__(self, config: MuMoConfig) -> None:
        super().__init__()
        self.norm = RMSNorm(config.hidden_size, eps=1e-8)
        self.mixer = MambaMixer(config)

    def forward(self, hidden: Tensor, mask: Tensor | None = None) -> Tensor:
        return hidden.float() + self.mixer(self.norm(hidden), mask).float()
