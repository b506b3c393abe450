"""Save and load a model as `config.json` + `model.safetensors` (no pickle), each file written atomically.

`checksums.json` holds the SHA-256 of each weight file: a damaged or swapped file of the right size would
otherwise load and predict nonsense with nothing to say so. Loading verifies it; a directory written before
checksums existed loads with a warning.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from mumo.data.download import sha256sum
from mumo.io import atomic_path, write_json
from mumo.model.config import MuMoConfig
from mumo.model.model import MuMo

CONFIG_NAME, WEIGHTS_NAME, CHECKSUMS_NAME = "config.json", "model.safetensors", "checksums.json"
_HEAD_PREFIXES = ("head.", "target_scaler.")

logger = logging.getLogger(__name__)


def save_pretrained(model: MuMo, directory: str | os.PathLike) -> None:
    """Write the weights (buffers such as the target scaler included), then the config that rebuilds the model."""
    directory = Path(directory)
    state = {name: tensor.detach().contiguous().cpu() for name, tensor in model.state_dict().items()}
    with atomic_path(directory / WEIGHTS_NAME) as tmp:
        save_file(state, str(tmp), metadata={"format": "pt"})
    write_json({"sha256": {WEIGHTS_NAME: sha256sum(directory / WEIGHTS_NAME)}}, directory / CHECKSUMS_NAME)
    with atomic_path(directory / CONFIG_NAME) as tmp:
        tmp.write_text(json.dumps(model.config.to_dict(), indent=2, sort_keys=True) + "\n")


def verify_weights(directory: str | os.PathLike) -> None:
    """Check each weight file against `checksums.json`; ValueError naming the file on a mismatch."""
    directory = Path(directory)
    if not (directory / CHECKSUMS_NAME).exists():
        logger.warning(
            "%s: no %s (written before mumo kept checksums); weights not verified", directory, CHECKSUMS_NAME
        )
        return
    for name, expected in json.loads((directory / CHECKSUMS_NAME).read_text())["sha256"].items():
        if sha256sum(directory / name) != expected:
            raise ValueError(
                f"{directory / name}: SHA-256 differs from {CHECKSUMS_NAME} (file damaged or replaced); "
                "restore it or train the model again"
            )


def load_config(directory: str | os.PathLike) -> MuMoConfig:
    return MuMoConfig.from_dict(json.loads((Path(directory) / CONFIG_NAME).read_text()))


def load_pretrained(
    directory: str | os.PathLike, device: str | torch.device = "cpu", **overrides: Any
) -> MuMo:
    """Rebuild the model from its config (fields replaced by `overrides`) and load the saved weights.

    The weights are verified against `checksums.json` first (see `verify_weights`). If the overrides change the head (e.g. a pretrained checkpoint loaded with head="regression"), only the
    encoder is loaded and the new head keeps its fresh initialisation; otherwise every weight must match.
    """
    verify_weights(directory)
    saved = load_config(directory)
    config = dataclasses.replace(saved, **overrides)
    model = MuMo(config).to(device)
    state = load_file(str(Path(directory) / WEIGHTS_NAME), device=str(device))
    head_fields = ("head", "num_tasks", "pooler", "graph_sum")
    if any(getattr(saved, f) != getattr(config, f) for f in head_fields):
        state = {k: v for k, v in state.items() if not k.startswith(_HEAD_PREFIXES)}
        missing, unexpected = model.load_state_dict(state, strict=False)
        missing = [k for k in missing if not k.startswith(_HEAD_PREFIXES)]
        if missing or unexpected:
            raise RuntimeError(f"encoder weights do not match: missing {missing}, unexpected {unexpected}")
    else:
        model.load_state_dict(state)
    return model
