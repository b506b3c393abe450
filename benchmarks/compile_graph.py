"""Size of the graphs that torch.compile makes of a training step (issue #15 item 2): nodes and `slice_scatter`s.

Traces the `small` classification model's forward and backward (the batches of benchmarks/compile.py)
through AOTAutograd with a backend that only counts the nodes of the forward and backward graphs, once
with the scan that runs under compile (`functional`) and once with the in-place chunked scan
(`in-place`, what was compiled before). Each `slice_scatter` is an in-place slice update of eager code
turned into a copy of the whole tensor. Tracing only, no code generation: seconds to a minute per row.

    .venv/bin/python benchmarks/compile_graph.py                 # batches 1 4 32, both scans; prints JSON lines
"""

from __future__ import annotations

import argparse
import functools
import json
from collections import Counter

import numpy as np
import torch
from compile import molecule_batch  # benchmarks/compile.py: the same synthetic batches
from functorch.compile import make_boxed_func
from torch._dynamo.backends.common import aot_autograd

from mumo.model import MuMo, get_preset
from mumo.model import selective_scan as scan_module
from mumo.model.compile import maybe_compile
from mumo.train.recipes import supervised_loss


def count_nodes(preset: str, batch, scan: str) -> Counter:
    """Operator nodes and slice_scatter nodes of the AOT forward and backward graphs of one training step."""
    counts = Counter()

    def counting(phase: str):
        def compiler(graph_module, example_inputs):
            for node in graph_module.graph.nodes:
                if node.op == "call_function":
                    counts[f"{phase}_nodes"] += 1
                    counts[f"{phase}_slice_scatter"] += "slice_scatter" in str(node.target)
            return make_boxed_func(graph_module.forward)

        return compiler

    chunked = scan_module.selective_scan_chunked
    scan_module.selective_scan_chunked = functools.partial(chunked, functional=scan == "functional")
    try:
        torch.manual_seed(0)
        model = MuMo(get_preset(preset, head="classification")).train()
        maybe_compile(
            model, True, backend=aot_autograd(fw_compiler=counting("fw"), bw_compiler=counting("bw"))
        )
        torch._dynamo.reset()
        supervised_loss(model, batch, None).backward()
    finally:
        scan_module.selective_scan_chunked = chunked
    return counts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="small")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 4, 32])
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)  # drawn in the same order as benchmarks/compile.py
    for batch_size in args.batches:
        batch = molecule_batch(rng, batch_size)
        for scan in ("in-place", "functional"):
            counts = count_nodes(args.preset, batch, scan)
            print(
                json.dumps({"preset": args.preset, "batch_size": batch_size, "scan": scan, **counts}),
                flush=True,
            )


if __name__ == "__main__":
    main()
