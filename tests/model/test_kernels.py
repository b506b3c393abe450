"""Selective scan and causal conv: the fast pure-PyTorch paths against the readable references (and the CUDA kernels)."""

from __future__ import annotations

import pytest
import torch

from mumo.model import kernels
from mumo.model.causal_conv import causal_conv1d, causal_conv1d_ref
from mumo.model.selective_scan import (
    _scan_,
    selective_scan,
    selective_scan_chunked,
    selective_scan_ref,
)

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
needs_scan_kernel = pytest.mark.skipif(
    kernels.cuda_selective_scan_fn is None, reason="mamba-ssm not importable"
)
needs_conv_kernel = pytest.mark.skipif(
    kernels.cuda_causal_conv1d_fn is None, reason="causal-conv1d not importable"
)


def scan_inputs(batch=2, dim=8, state=4, length=37, groups=None, device="cpu", dtype=torch.float32, seed=0):
    """Random scan inputs shaped like the mixer's; delta > 0, A like -exp(A_log)."""
    g = torch.Generator(device="cpu").manual_seed(seed)
    bc_shape = (batch, state, length) if groups is None else (batch, groups, state, length)
    tensors = {
        "u": torch.randn(batch, dim, length, generator=g),
        "delta": 0.5 * torch.rand(batch, dim, length, generator=g),  # > 0, as after softplus
        "A": -torch.exp(torch.rand(dim, state, generator=g) * 2),
        "B": torch.randn(bc_shape, generator=g),
        "C": torch.randn(bc_shape, generator=g),
        "D": torch.randn(dim, generator=g),
        "z": torch.randn(batch, dim, length, generator=g),
        "delta_bias": torch.rand(dim, generator=g) - 0.5,
    }
    return {k: v.to(device, dtype).requires_grad_() for k, v in tensors.items()}


def run_with_grads(fn, inputs, names, last_state_in_loss=True, **flags):
    """Outputs and the gradients of a fixed random projection of them, w.r.t. the named inputs."""
    args = {k: inputs[k] for k in ("u", "delta", "A", "B", "C")} | {k: inputs[k] for k in names}
    out = fn(**args, **flags)
    outs = out if isinstance(out, tuple) else (out,)
    g = torch.Generator(device="cpu").manual_seed(1)
    weights = [torch.randn(o.shape, generator=g).to(o.device) for o in outs]
    in_loss = outs if last_state_in_loss else outs[:1]
    objective = sum((o.float() * w).sum() for o, w in zip(in_loss, weights, strict=False))
    grads = torch.autograd.grad(objective, list(args.values()))
    return [o.detach().float() for o in outs], [gr.float() for gr in grads]


def assert_all_close(actual, expected, rtol, atol):
    for a, e in zip(actual, expected, strict=True):
        torch.testing.assert_close(a, e, rtol=rtol, atol=atol)


def assert_all_close_normwise(actual, expected, tol):
    """max |a - e| <= tol * max |e| per tensor: the scale-aware test for sums of many rounded terms."""
    for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
        error, scale = (a - e).abs().max().item(), e.abs().max().item()
        assert error <= tol * scale + 1e-12, f"tensor {i}: max error {error:.3g} > {tol} * {scale:.3g}"


@pytest.mark.parametrize(
    ("names", "flags", "groups"),
    [
        ((), {}, None),
        (("D",), {"delta_softplus": True}, None),
        (("z", "delta_bias"), {"delta_softplus": True}, None),
        (("D", "z", "delta_bias"), {"delta_softplus": True, "return_last_state": True}, None),
        (("D", "z"), {"return_last_state": True}, 2),
        (("D", "z", "delta_bias"), {"delta_softplus": True}, 4),
    ],
)
@pytest.mark.parametrize(("length", "chunk"), [(1, None), (37, None), (37, 4), (64, 16), (64, 64)])
@pytest.mark.parametrize("functional", [False, True])
def test_chunked_scan_matches_reference(names, flags, groups, length, chunk, functional):
    inputs = scan_inputs(length=length, groups=groups)
    expected = run_with_grads(selective_scan_ref, inputs, names, **flags)
    actual = run_with_grads(
        selective_scan_chunked, inputs, names, chunk_size=chunk, functional=functional, **flags
    )
    assert_all_close(actual[0] + actual[1], expected[0] + expected[1], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("functional", [False, True])
def test_chunked_scan_gradcheck_fp64(functional):
    inputs = scan_inputs(batch=1, dim=4, state=3, length=11, groups=2, dtype=torch.float64)

    def fn(u, delta, A, B, C, D, z, delta_bias):
        return selective_scan_chunked(
            *(u, delta, A, B, C, D, z, delta_bias),
            delta_softplus=True,
            return_last_state=True,
            chunk_size=3,
            functional=functional,
        )

    assert torch.autograd.gradcheck(fn, tuple(inputs.values()))


@pytest.mark.parametrize("functional", [False, True])
def test_chunked_scan_is_stable_on_long_sequences_with_strong_decay(functional):
    """exp(+cumsum) would overflow here (Σ delta·A < -6e4); the chunked scan only multiplies decays <= 1."""
    inputs = scan_inputs(batch=1, dim=4, state=4, length=2048)
    with torch.no_grad():
        inputs["A"].mul_(30.0)
        inputs["delta"].abs_().add_(1.0)
    expected = run_with_grads(selective_scan_ref, inputs, ("D",), return_last_state=True)
    actual = run_with_grads(
        selective_scan_chunked, inputs, ("D",), return_last_state=True, functional=functional
    )
    assert all(torch.isfinite(t).all() for t in actual[0] + actual[1])
    assert_all_close(actual[0] + actual[1], expected[0] + expected[1], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize(("length", "chunk"), [(1, 4), (10, 3), (12, 4), (7, 100)])
def test_scan_recurrence(reverse, length, chunk):
    a, x = torch.rand(2, length, 3), torch.randn(2, length, 3)
    expected, state = torch.empty_like(x), torch.zeros(2, 3)
    for t in reversed(range(length)) if reverse else range(length):
        state = a[:, t] * state + x[:, t]
        expected[:, t] = state
    a_before = a.clone()
    torch.testing.assert_close(_scan_(a, x.clone(), chunk, torch.empty_like(a), reverse=reverse), expected)
    assert torch.equal(a, a_before)


def test_compiling_traces_one_out_of_place_scan(monkeypatch):
    """Under torch.compile: no in-place writes (each would trace into a whole-tensor copy), no batch blocks."""
    from mumo.model import selective_scan as module

    monkeypatch.setattr(module, "CPU_BLOCK_ELEMENTS", 1)  # eager scans these 5 molecules one by one
    inputs = {k: v.detach() for k, v in scan_inputs(batch=5).items()}
    graphs = []

    def backend(graph_module, example_inputs):
        graphs.append(graph_module)
        return graph_module.forward

    core = [inputs[k] for k in ("u", "delta", "A", "B", "C")]
    compiled = torch.compile(selective_scan_chunked, backend=backend, fullgraph=True, dynamic=False)
    torch.testing.assert_close(compiled(*core), selective_scan_chunked(*core), rtol=1e-5, atol=1e-6)
    calls = [node.target for node in graphs[0].graph.nodes if node.op in ("call_function", "call_method")]
    names = [getattr(target, "__name__", str(target)) for target in calls]
    assert [name for name in names if name.endswith("_") and not name.startswith("_")] == []
    assert not [name for name in names if name in {"cat", "autograd_function_apply"}]  # blocks, _ChunkedScan


def test_dispatch_and_errors():
    inputs = {k: v.detach() for k, v in scan_inputs().items()}
    core = [inputs[k] for k in ("u", "delta", "A", "B", "C")]
    torch.testing.assert_close(selective_scan(*core), selective_scan(*core, impl="ref"), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="valid: ref, torch, cuda"):
        selective_scan(*core, impl="triton")
    if kernels.cuda_selective_scan_fn is None:
        with pytest.raises(RuntimeError, match="mamba-ssm"):
            selective_scan(*core, impl="cuda")
    with pytest.raises(RuntimeError, match="causal-conv1d|CUDA tensors"):
        causal_conv1d(inputs["u"], torch.randn(8, 4), impl="cuda")


@pytest.mark.parametrize("activation", [None, "silu"])
@pytest.mark.parametrize("with_bias", [False, True])
def test_causal_conv_matches_reference(activation, with_bias):
    x = torch.randn(2, 6, 19, requires_grad=True)
    weight = torch.randn(6, 4, requires_grad=True)
    bias = torch.randn(6, requires_grad=True) if with_bias else None
    params = [x, weight] + ([bias] if with_bias else [])
    results = []
    for impl in ("ref", "torch"):
        y = causal_conv1d(x, weight, bias, activation, impl=impl)
        results.append([y, *torch.autograd.grad((y * torch.linspace(-1, 1, 19)).sum(), params)])
    assert_all_close(results[1], results[0], rtol=1e-5, atol=1e-6)
    # causality: changing the future does not change the past
    x2 = x.detach().clone()
    x2[:, :, 10:] += 1.0
    torch.testing.assert_close(
        causal_conv1d(x2, weight, bias, activation)[:, :, :10], results[0][0][:, :, :10].detach()
    )


def test_causal_conv_ref_is_the_definition():
    x, weight = torch.randn(1, 2, 5), torch.randn(2, 3)
    y = causal_conv1d_ref(x, weight)
    t = 3
    expected = weight[:, 0] * x[0, :, t - 2] + weight[:, 1] * x[0, :, t - 1] + weight[:, 2] * x[0, :, t]
    torch.testing.assert_close(y[0, :, t], expected)
    torch.testing.assert_close(y[0, :, 0], weight[:, 2] * x[0, :, 0])


# ----------------------------------------------------------------------------------------------
# CUDA (run on a GPU machine): kernels vs the fast pure-PyTorch path.
# Kernel tolerances are normwise (max error / max magnitude per tensor): fp32 1e-3 for the scan (the kernel is
# built with --use_fast_math), 1e-4 for the conv; bf16 inputs 2e-2 (both paths compute in fp32 from the same
# bf16 inputs; the difference is bf16 rounding of outputs/gradients and summation order).
# mamba-ssm's kernel does not back-propagate through the returned last state (ours does), so the kernel
# comparison puts the last state in the forward check only.


@pytest.mark.cuda
@needs_cuda
@pytest.mark.parametrize("length", [64, 512])
def test_torch_scan_on_cuda_matches_reference(length):
    inputs = scan_inputs(batch=2, dim=16, state=16, length=length, device="cuda")
    names, flags = ("D", "z", "delta_bias"), {"delta_softplus": True, "return_last_state": True}
    expected = run_with_grads(selective_scan_ref, inputs, names, **flags)
    actual = run_with_grads(selective_scan_chunked, inputs, names, **flags)
    assert_all_close(actual[0] + actual[1], expected[0] + expected[1], rtol=1e-4, atol=1e-5)


@pytest.mark.cuda
@needs_cuda
@needs_scan_kernel
@pytest.mark.parametrize(("dtype", "tol"), [(torch.float32, 1e-3), (torch.bfloat16, 2e-2)])
@pytest.mark.parametrize("groups", [None, 2])
def test_cuda_kernel_matches_torch_path(dtype, tol, groups):
    inputs = scan_inputs(batch=2, dim=64, state=16, length=256, groups=groups, device="cuda", dtype=dtype)
    with torch.no_grad():  # the kernel keeps A, D, delta_bias in fp32 in practice
        for k in ("A", "D", "delta_bias"):
            inputs[k] = inputs[k].float().requires_grad_()
    names, flags = ("D", "z", "delta_bias"), {"delta_softplus": True, "return_last_state": True}
    fast = run_with_grads(lambda **kw: selective_scan(**kw, impl="torch"), inputs, names, False, **flags)
    kernel = run_with_grads(lambda **kw: selective_scan(**kw, impl="cuda"), inputs, names, False, **flags)
    assert_all_close_normwise(kernel[0] + kernel[1], fast[0] + fast[1], tol)


@pytest.mark.cuda
@needs_cuda
@needs_conv_kernel
@pytest.mark.parametrize(("dtype", "tol"), [(torch.float32, 1e-4), (torch.bfloat16, 2e-2)])
def test_cuda_conv_kernel_matches_torch_path(dtype, tol):
    x = torch.randn(2, 64, 100, device="cuda", dtype=dtype, requires_grad=True)
    weight = torch.randn(64, 4, device="cuda", dtype=dtype, requires_grad=True)
    bias = torch.randn(64, device="cuda", dtype=dtype, requires_grad=True)
    results = []
    for impl in ("torch", "cuda"):
        y = causal_conv1d(x, weight, bias, "silu", impl=impl)
        results.append(
            [y.float(), *(g.float() for g in torch.autograd.grad(y.float().sum(), [x, weight, bias]))]
        )
    assert_all_close_normwise(results[1], results[0], tol)


def test_chunked_scan_in_batch_blocks_matches_reference(monkeypatch):
    """CPU scans big batches in blocks (CPU_BLOCK_ELEMENTS); the seams must not show."""
    from mumo.model import selective_scan as module

    monkeypatch.setattr(module, "CPU_BLOCK_ELEMENTS", 2 * 8 * 4 * 20)  # blocks of 2 molecules
    inputs = scan_inputs(batch=5, dim=8, state=4, length=20, groups=2)
    names, flags = ("D", "z"), {"delta_softplus": True, "return_last_state": True}
    expected = run_with_grads(selective_scan_ref, inputs, names, **flags)
    actual = run_with_grads(selective_scan_chunked, inputs, names, **flags)
    assert_all_close(actual[0] + actual[1], expected[0] + expected[1], rtol=1e-4, atol=1e-5)
