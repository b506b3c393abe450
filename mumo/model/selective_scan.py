"""Mamba-1 selective scan: a readable sequential reference, a chunked pure-PyTorch scan, and mamba-ssm's kernel.

All three share mamba-ssm's `selective_scan_fn` semantics and argument layout::

    u, delta, z: (batch, dim, length)    A: (dim, state)    D, delta_bias: (dim,)
    B, C: (batch, state, length) or (batch, groups, state, length), groups dividing dim
    delta <- softplus(delta + delta_bias)            (each step only if asked)
    h_t = exp(delta_t * A) * h_{t-1} + delta_t * u_t * B_t      h: (batch, dim, state), h_{-1} = 0
    y_t = <h_t, C_t> + D * u_t ;  y <- y * silu(z)

`selective_scan_ref` is the specification (a loop over time, after mamba_ssm's `selective_scan_ref`); the
chunked path must match it to fp32 rounding, forward and backward, and the tests check that. One difference
from the kernel: mamba-ssm does not back-propagate through the returned last state, the two paths here do.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from mumo.model.kernels import cuda_selective_scan_fn, resolve_impl


def selective_scan(  # noqa: PLR0913, PLR0917 -- mirrors mamba_ssm's selective_scan_fn
    u: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None = None,
    z: Tensor | None = None,
    delta_bias: Tensor | None = None,
    delta_softplus: bool = False,
    return_last_state: bool = False,
    *,
    impl: str | None = None,
) -> Tensor | tuple[Tensor, Tensor]:
    """Selective scan on the best available path: mamba-ssm's kernel on CUDA if it imports, else the chunked scan.

    `impl` forces "ref" (sequential reference), "torch" (chunked pure PyTorch) or "cuda" (error if unavailable).
    Returns y (batch, dim, length) in u's dtype, plus the last state (batch, dim, state) if asked.
    """
    impl = resolve_impl(impl, u, cuda_selective_scan_fn, "selective_scan")
    fn = {"ref": selective_scan_ref, "torch": selective_scan_chunked, "cuda": cuda_selective_scan_fn}[impl]
    return fn(u, delta, A, B, C, D, z, delta_bias, delta_softplus, return_last_state)


def _prepare_delta(
    delta: Tensor, delta_bias: Tensor | None, delta_softplus: bool, dtype: torch.dtype
) -> Tensor:
    delta = delta.to(dtype)
    if delta_bias is not None:
        delta = delta + delta_bias.to(dtype)[:, None]
    return F.softplus(delta) if delta_softplus else delta


def _finish(y: Tensor, u: Tensor, D: Tensor | None, z: Tensor | None, dtype_in: torch.dtype) -> Tensor:
    """The parts outside the recurrence: skip connection D·u and gate silu(z), as in the kernel."""
    if D is not None:
        y = y + u * D.to(y.dtype)[:, None]
    if z is not None:
        y = y * F.silu(z.to(y.dtype))
    return y.to(dtype_in)


def _compute_dtype(u: Tensor) -> torch.dtype:
    """fp32 like the kernel, fp64 kept so that gradcheck can run."""
    return torch.float64 if u.dtype == torch.float64 else torch.float32


# --------------------------------------------------------------------------------------------------
# Reference: one step per time position.


def selective_scan_ref(  # noqa: PLR0913, PLR0917 -- mirrors mamba_ssm's selective_scan_fn
    u: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None = None,
    z: Tensor | None = None,
    delta_bias: Tensor | None = None,
    delta_softplus: bool = False,
    return_last_state: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Sequential reference (after mamba_ssm.ops.selective_scan_interface.selective_scan_ref, Apache-2.0)."""
    dtype_in, dtype = u.dtype, _compute_dtype(u)
    u = u.to(dtype)
    delta = _prepare_delta(delta, delta_bias, delta_softplus, dtype)
    dim = u.shape[1]
    # (batch, groups, state, length) -> (batch, dim, state, length): channel c reads group c // (dim // groups)
    B = (B.unsqueeze(1) if B.dim() == 3 else B.repeat_interleave(dim // B.shape[1], dim=1)).to(dtype)
    C = (C.unsqueeze(1) if C.dim() == 3 else C.repeat_interleave(dim // C.shape[1], dim=1)).to(dtype)
    deltaA = torch.exp(torch.einsum("bdl,dn->bdln", delta, A.to(dtype)))
    deltaB_u = torch.einsum("bdl,bdnl,bdl->bdln", delta, B.expand(-1, dim, -1, -1), u)
    state = u.new_zeros(u.shape[0], dim, A.shape[1])
    ys = []
    for t in range(u.shape[2]):
        state = deltaA[:, :, t] * state + deltaB_u[:, :, t]
        ys.append(torch.einsum("bdn,bdn->bd", state, C[:, :, :, t].expand(-1, dim, -1)))
    y = _finish(torch.stack(ys, dim=2), u, D, z, dtype_in)
    return (y, state) if return_last_state else y


# --------------------------------------------------------------------------------------------------
# Fast pure-PyTorch path: chunked scan with a hand-written backward that recomputes the states.


#: On CPU the batch is scanned in blocks whose (block, length, dim, state) work tensors hold about this many
#: elements (4 MB in fp32): on the project's 2-core machine one block of a (32, 128, 256, 16) scan took twice
#: as long (large buffers come from fresh mmaps, page-faulted on every call, and miss the caches). CUDA's
#: caching allocator has no such cost and parallelism wants big tensors, so CUDA uses one block.
CPU_BLOCK_ELEMENTS = 1 << 20


def default_chunk_size(length: int) -> int:
    """About sqrt(length): the two Python loops of `_scan_` then take about 2·sqrt(length) steps in all."""
    return max(2, round(math.sqrt(length)))


def _scan_(a: Tensor, x: Tensor, chunk: int, cum: Tensor, reverse: bool = False) -> Tensor:
    """In place along dim 1: x_t <- a_t * x_{t-1} + x_t (x_{t+1} when `reverse`), i.e. the scan's states.

    First every chunk of `chunk` positions is scanned from a zero state, all chunks at once (a loop over the
    positions inside a chunk, which also fills `cum` with the decay accumulated since the chunk start); then a
    short loop over chunks carries each chunk's last state into the next: x_t += cum_t * x_carry. Only products
    of decays exp(delta*A) <= 1 appear, never their inverses, so nothing overflows however long the sequence or
    however negative delta*A is (underflow to 0 is the exact limit). `a` is read only; `cum` is a work buffer.
    """
    length = x.shape[1]
    first = (length - 1) % chunk if reverse else 0  # the chunks' first positions, in scan order
    cum[:, first::chunk] = a[:, first::chunk]
    for t in range(1, min(chunk, length)):
        if reverse:  # chunks end at length, length - chunk, ...; step t is t positions before a chunk's end
            r = (length - 1 - t) % chunk
            cur, prev = slice(r, length - t, chunk), slice(r + 1, length - t + 1, chunk)
        else:  # chunks start at 0, chunk, ...; step t is t positions after a chunk's start
            cur, prev = slice(t, length, chunk), slice(t - 1, length - 1, chunk)
        x[:, cur].addcmul_(a[:, cur], x[:, prev])
        cum[:, cur].copy_(a[:, cur]).mul_(cum[:, prev])  # in place, without `out=` on a view (no graph break)
    if reverse:
        bounds = [(max(hi - chunk, 0), hi, hi) for hi in range(length - chunk, 0, -chunk)]
    else:
        bounds = [(lo, min(lo + chunk, length), lo - 1) for lo in range(chunk, length, chunk)]
    for lo, hi, carry in bounds:
        x[:, lo:hi].addcmul_(cum[:, lo:hi], x[:, carry : carry + 1])
    return x


class _ChunkedScan(torch.autograd.Function):
    """y_t = <h_t, C_t> for h_t = exp(delta_t A) h_{t-1} + delta_t u_t B_t, in the layout (batch, length, groups,
    dim/groups, state) where the per-position reductions over state and dim are batched matrix products.

    Only the inputs are saved; backward recomputes the states (like the CUDA kernel), which keeps the memory of a
    layer at O(batch·dim·length) instead of O(batch·dim·length·state), then runs the adjoint scan backwards:
    g_t = C_t dy_t + exp(delta_{t+1} A) g_{t+1}.
    """

    @staticmethod
    def _decay_and_input(u: Tensor, delta: Tensor, A: Tensor, B: Tensor) -> tuple[Tensor, Tensor]:
        """a_t = exp(delta_t A) and x_t = delta_t u_t B_t, both contiguous (b, L, g, dim/g, state).

        Written into fresh contiguous buffers: broadcasting can otherwise give the size-1 group dimension odd
        strides, which makes every later batched matmul copy the whole tensor.
        """
        b, d, length = u.shape
        g, n = B.shape[1], A.shape[1]
        delta5 = delta.transpose(1, 2).reshape(b, length, g, d // g, 1)
        du5 = (delta * u).transpose(1, 2).reshape(b, length, g, d // g, 1)
        a, x = (u.new_empty(b, length, g, d // g, n) for _ in range(2))
        torch.mul(delta5, A.view(g, d // g, n), out=a).exp_()
        torch.mul(du5, B.permute(0, 3, 1, 2).unsqueeze(3).contiguous(), out=x)
        return a, x

    @staticmethod
    def forward(ctx, u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, chunk: int):  # noqa: PLR0917 -- Function.apply passes positionally
        with torch.autocast(u.device.type, enabled=False):
            b, d, length = u.shape
            a, x = _ChunkedScan._decay_and_input(u, delta, A, B)
            h = _scan_(a, x, chunk, cum=torch.empty_like(a))
            del a
            y = (h @ C.permute(0, 3, 1, 2).unsqueeze(-1)).reshape(b, length, d).transpose(1, 2)
            last_state = h[:, -1].reshape(b, d, -1).clone()
        ctx.save_for_backward(u, delta, A, B, C)
        ctx.chunk = chunk
        ctx.set_materialize_grads(False)  # an unused last state then costs nothing in backward
        return y, last_state

    @staticmethod
    def backward(ctx, dy: Tensor, dlast: Tensor | None):
        u, delta, A, B, C = ctx.saved_tensors
        b, d, length = u.shape
        dy = torch.zeros_like(u) if dy is None else dy
        g, n = B.shape[1], A.shape[1]
        shape5 = (b, length, g, d // g)
        with torch.autocast(u.device.type, enabled=False):
            a, x = _ChunkedScan._decay_and_input(u, delta, A, B)
            cum = torch.empty_like(a)
            h = _scan_(a, x, ctx.chunk, cum)
            # (b, L, g, 1, n), contiguous: these are small, and strided operands make the broadcast products
            # with (b, L, g, d/g, 1) several times slower
            Bt, Ct = (M.permute(0, 3, 1, 2).unsqueeze(3).contiguous() for M in (B, C))
            dy5 = dy.transpose(1, 2).reshape(*shape5, 1)
            dC = (dy5.transpose(-1, -2) @ h).squeeze(3).permute(0, 2, 3, 1)
            # contiguous like a and h: broadcasting would take Ct's permuted strides, and every later bmm
            # and in-place product would then copy or stride through the whole tensor
            grad_h = torch.mul(dy5, Ct, out=torch.empty_like(h))
            if dlast is not None:
                grad_h[:, -1] += dlast.view(b, g, d // g, n)
            # adjoint scan g_t = grad_h_t + a_{t+1} g_{t+1}: fold in the last position, then scan positions
            # 0..L-2 backwards with the decays a_1..a_{L-1} (views, no copy)
            if length > 1:
                grad_h[:, -2].addcmul_(a[:, -1], grad_h[:, -1])
                _scan_(a[:, 1:], grad_h[:, :-1], ctx.chunk, cum[:, :-1], reverse=True)
            grad_x = grad_h
            del cum
            du5 = (delta * u).transpose(1, 2).reshape(*shape5, 1)
            dB = (du5.transpose(-1, -2) @ grad_x).squeeze(3).permute(0, 2, 3, 1)
            grad_du = (grad_x @ Bt.transpose(-1, -2)).squeeze(-1)  # <g_t, B_t>: gradient of delta_t * u_t
            # gradient of delta_t * A through the decay: g_t * a_t * h_{t-1} (never h_t - x_t: it cancels)
            grad_dA = grad_x
            grad_dA[:, 0] = 0
            grad_dA[:, 1:].mul_(a[:, 1:]).mul_(h[:, :-1])
            del a, h
            delta5 = delta.transpose(1, 2).reshape(*shape5, 1)
            dA = (grad_dA * delta5).sum((0, 1)).view(d, n)
            grad_delta = grad_dA.mul_(A.view(g, d // g, n)).sum(-1)
            grad_delta = grad_delta.addcmul_(grad_du, u.transpose(1, 2).reshape(shape5))
            du = grad_du.mul_(delta.transpose(1, 2).reshape(shape5))
        du, grad_delta = (t.reshape(b, length, d).transpose(1, 2) for t in (du, grad_delta))
        return du, grad_delta, dA, dB, dC, None


# --------------------------------------------------------------------------------------------------
# Compile-friendly path: the same chunked scan without in-place writes, differentiated by autograd.


def _time_major_chunks(t: Tensor, chunk: int) -> tuple[Tensor, ...]:
    """(batch, ..., length) -> per position in a chunk, a tensor (chunks, batch, ...), zeros padded in front.

    Leading zeros (delta = 0: decay 1, input 0) keep the state at zero, so the real positions and the last
    state are unchanged. Time-major, so that each step reads and writes contiguous blocks.
    """
    n_chunks = -(-t.shape[-1] // chunk)
    t = F.pad(t, (n_chunks * chunk - t.shape[-1], 0)).movedim(-1, 0)
    return t.reshape(n_chunks, chunk, *t.shape[1:]).unbind(1)


def _selective_scan_functional(
    u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, *, chunk: int
) -> tuple[Tensor, Tensor]:
    """(y, last state) of `_ChunkedScan` without in-place writes, for autograd to differentiate.

    Traced, every in-place slice update of `_scan_` becomes a copy of the whole tensor (`slice_scatter`);
    here chunks are a dimension and each step's states are new tensors: the chunks are scanned from a zero
    state all at once (a loop over the positions of a chunk), a loop over chunks carries each chunk's last
    state into the next, and the stacked states, completed by the carries, are reduced against C at once.
    The traced graph then holds pointwise steps and small reductions that inductor fuses, and their
    derivative is the same again, which it fuses too; it saves the per-step states for backward
    (batch·length·dim·state values per layer) where `_ChunkedScan` recomputes them.
    """
    with torch.autocast(u.device.type, enabled=False):
        b, d, length = u.shape
        g, n = B.shape[1], A.shape[1]
        deltas = _time_major_chunks(delta.reshape(b, g, d // g, 1, length), chunk)
        inputs = _time_major_chunks((delta * u).reshape(b, g, d // g, 1, length), chunk)
        Bs, Cs = (_time_major_chunks(M.unsqueeze(2), chunk) for M in (B, C))  # (chunks, b, g, 1, n) each
        A = A.view(g, d // g, n)
        decay = torch.exp(deltas[0] * A)
        states, decays = [inputs[0] * Bs[0]], [decay]
        for delta_t, input_t, B_t in zip(deltas[1:], inputs[1:], Bs[1:], strict=True):
            decay = torch.exp(delta_t * A)
            states.append(torch.addcmul(input_t * B_t, decay, states[-1]))
            decays.append(decay * decays[-1])
        # the state carried into each chunk: the previous chunk's last state, completed by its own carry
        carries = [torch.zeros_like(states[-1][0])]
        for last_state, last_decay in zip(states[-1].unbind(0), decays[-1].unbind(0), strict=True):
            carries.append(torch.addcmul(last_state, last_decay, carries[-1]))
        carry = torch.stack(carries[:-1]).unsqueeze(1)
        h = torch.addcmul(torch.stack(states, 1), torch.stack(decays, 1), carry)
        y = (h * torch.stack(Cs, 1)).sum(-1).reshape(-1, b, d)[-length:].permute(1, 2, 0)
        return y, carries[-1].reshape(b, d, n)


def selective_scan_chunked(  # noqa: PLR0913, PLR0917 -- mirrors mamba_ssm's selective_scan_fn
    u: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None = None,
    z: Tensor | None = None,
    delta_bias: Tensor | None = None,
    delta_softplus: bool = False,
    return_last_state: bool = False,
    chunk_size: int | None = None,
    *,
    functional: bool | None = None,
) -> Tensor | tuple[Tensor, Tensor]:
    """Pure-PyTorch selective scan, vectorised over the sequence; same contract as the reference.

    `functional` None: `_selective_scan_functional` while torch.compile traces (one scan per layer, no CPU
    batch blocks), else `_ChunkedScan` (in place, batch blocks on CPU), whose eager results stay unchanged.
    """
    dtype_in, dtype = u.dtype, _compute_dtype(u)
    u = u.to(dtype)
    delta = _prepare_delta(delta, delta_bias, delta_softplus, dtype)
    A = A.to(dtype)
    B = (B.unsqueeze(1) if B.dim() == 3 else B).to(dtype)
    C = (C.unsqueeze(1) if C.dim() == 3 else C).to(dtype)
    chunk = chunk_size or default_chunk_size(u.shape[2])
    if torch.compiler.is_compiling() if functional is None else functional:
        y, last_state = _selective_scan_functional(u, delta, A, B, C, chunk=chunk)
        y = _finish(y, u, D, z, dtype_in)
        return (y, last_state) if return_last_state else y
    batch, dim, length = u.shape
    block = batch if u.is_cuda else max(1, CPU_BLOCK_ELEMENTS // (dim * length * A.shape[1]))
    parts = [
        _ChunkedScan.apply(
            u[i : i + block], delta[i : i + block], A, B[i : i + block], C[i : i + block], chunk
        )
        for i in range(0, batch, block)
    ]
    y, last_state = parts[0] if len(parts) == 1 else (torch.cat(p) for p in zip(*parts, strict=True))
    y = _finish(y, u, D, z, dtype_in)
    return (y, last_state) if return_last_state else y
