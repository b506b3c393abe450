"""Training layer: one DeepSpeed engine (`engine.train`, a `Trainer`), the pretraining and finetuning recipes
the pipeline calls (`run_pretrain`, `run_finetune`), resume state (`resume`) and batch inference (`predict`,
which imports no training code).

Imports are lazy (PEP 562) so `import mumo.train` does not pull in DeepSpeed.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "TrainSettings": "mumo.train.settings",
    "run_pretrain": "mumo.train.recipes",
    "run_finetune": "mumo.train.recipes",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_EXPORTS[name]), name)
