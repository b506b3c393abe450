"""MuMo's neural model: selective-scan Mamba on SMILES tokens with an injected 2D/3D graph prior.

The names below load on first use (PEP 562), so that `mumo.model.config` (the presets, which the
Snakefile checks at start-up) imports without torch: every `snakemake` command starts 1.7 s sooner.
The scan itself is imported from its module (`from mumo.model.selective_scan import selective_scan`): a
package attribute of the same name would shadow the module.
"""

from importlib import import_module

_MODULE_OF = {
    "ATOM_FEATURE_DIMS": "batch",
    "BOND_FEATURE_DIMS": "batch",
    "MolBatch": "batch",
    "collate": "batch",
    "special_token_ids": "batch",
    "causal_conv1d": "causal_conv",
    "causal_conv1d_ref": "causal_conv",
    "SavedModel": "saved",
    "load_model": "saved",
    "load_pretrained": "saved",
    "save_model": "saved",
    "save_pretrained": "saved",
    "MuMoConfig": "config",
    "get_preset": "config",
    "preset_names": "config",
    "TargetScaler": "heads",
    "mask_tokens": "heads",
    "mlm_loss": "heads",
    "MuMo": "model",
    "MuMoEncoder": "model",
    "encoder_parameters": "model",
}
__all__ = sorted(_MODULE_OF)


def __getattr__(name: str):
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_MODULE_OF[name]}"), name)
