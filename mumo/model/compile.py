"""torch.compile for MuMo: the encoder and the head as whole graphs over bucketed static shapes.

On a GPU a step of the small models is bound by launches and host work, not arithmetic (issue #15: on
the H100 the step time did not grow from 64 to 128 tokens). Compiled, the encoder and the head are one
graph each (`fullgraph=True`: a graph break is an error, not a silent fallback), specialised on static
shapes (`dynamic=False`); bucketing (`mumo.model.buckets`) keeps the number of shapes small, and on a GPU
"reduce-overhead" replays each shape as a CUDA graph. The loss and the optimizer step stay eager.
Under compile the selective scan takes its out-of-place path (`selective_scan_chunked`), which traces
without whole-tensor copies. On CPU it does not pay: minutes of compilation per shape for steps about as
fast at batch 1 and slower at batch 32, where matrix products (library calls, on padded sizes) and the
scan (whose eager backward beats inductor's) are three quarters of a step (benchmarks/results/compile-cpu.md).

torch is imported on call only: `mumo.train.settings` validates the setting with this module and must
import without torch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mumo.model.model import MuMo

#: the `compile` training setting: off, inductor's default mode, or CUDA graphs on a GPU
COMPILE_MODES: tuple[bool | str, ...] = (False, True, "default", "reduce-overhead")

#: compiled shapes kept per module before dynamo falls back to eager (its default, 8, is too few for the
#: combinations of token, atom, bond and angle buckets of a training run plus evaluation)
RECOMPILE_LIMIT = 64


COMPILE_MODE_ERROR = "setting compile={value!r}; valid: false, true, 'default', 'reduce-overhead'"


def is_compile_mode(mode: object) -> bool:
    """Whether `mode` is one of COMPILE_MODES (true/false as booleans, not 0/1)."""
    return any(mode is m if isinstance(m, bool) else mode == m for m in COMPILE_MODES)


def check_compile_mode(mode: object) -> bool | str:
    """`mode` if it is one of COMPILE_MODES, else a ValueError naming it."""
    if not is_compile_mode(mode):
        raise ValueError(COMPILE_MODE_ERROR.format(value=mode))
    return mode


def maybe_compile(model: MuMo, mode: bool | str, backend: str | Callable = "inductor") -> MuMo:
    """Compile `model`'s encoder and head in place and pad its batches to buckets; `mode` False: unchanged.

    In place (`nn.Module.compile`), so parameter names, state dicts and checkpoints are those of the plain
    model. `backend` "eager", "aot_eager" (or a callable) traces without code generation (tests).
    """
    if check_compile_mode(mode) is False:
        return model
    import torch

    torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, RECOMPILE_LIMIT)
    options = {"fullgraph": True, "dynamic": False, "backend": backend}
    if backend == "inductor":
        options["mode"] = "default" if mode is True else mode
    model.encoder.compile(**options)
    model.head.compile(**options)
    model.bucketing = True
    return model
