"""MuMo's neural model: selective-scan Mamba on SMILES tokens with an injected 2D/3D graph prior.

The scan itself is imported from its module (`from mumo.model.selective_scan import selective_scan`): a
package attribute of the same name would shadow the module.
"""

from mumo.model.batch import ATOM_FEATURE_DIMS, BOND_FEATURE_DIMS, MolBatch, collate, special_token_ids
from mumo.model.causal_conv import causal_conv1d, causal_conv1d_ref
from mumo.model.checkpoint import load_pretrained, save_pretrained
from mumo.model.config import MuMoConfig, get_preset, preset_names
from mumo.model.heads import TargetScaler, mask_tokens, mlm_loss
from mumo.model.model import MuMo, MuMoEncoder

__all__ = [
    "ATOM_FEATURE_DIMS",
    "BOND_FEATURE_DIMS",
    "MolBatch",
    "MuMo",
    "MuMoConfig",
    "MuMoEncoder",
    "TargetScaler",
    "causal_conv1d",
    "causal_conv1d_ref",
    "collate",
    "get_preset",
    "load_pretrained",
    "mask_tokens",
    "mlm_loss",
    "preset_names",
    "save_pretrained",
    "special_token_ids",
]
