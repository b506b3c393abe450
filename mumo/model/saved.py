"""The saved model folder, written, read and verified here alone, so its format lives in one place.

A folder holds everything needed to use a model later, without pickle:

    config.json          the MuMoConfig that rebuilds the architecture
    model.safetensors    the weights (buffers such as a regression model's target scaler included)
    checksums.json       SHA-256 of every file above and below that the predictions depend on (weights,
                         config, vocabulary, task, featurization): a damaged, edited or swapped file would
                         otherwise load and predict other numbers with nothing to say so
    vocab.json           the tokenizer the model was trained with
    task.json            task type, task names, max length and the target scaler's statistics in readable form
    featurization.json   (finetuned models) the fragment policy and conformer settings its molecules went
                         through, so `mumo predict` treats new molecules the same way

Every file is written atomically. `save_model` / `load_model` / `verify` handle the whole folder;
`save_pretrained` / `load_pretrained` only its config and weights (the `best/` snapshot of a training run,
an encoder to finetune). A folder written before checksums (or featurization) existed, or whose checksums
cover only the weights (before mumo verified the other files), loads with a warning naming what is unverified.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from mumo.chem.conformer import REMOVED_SETTINGS, ConformerConfig
from mumo.chem.structure import FRAGMENT_POLICIES
from mumo.chem.tokenizer import SmilesTokenizer
from mumo.io import atomic_path, sha256sum, write_json, write_text_atomic
from mumo.model.config import (
    CHECKSUMS_NAME,
    CONFIG_NAME,
    FEATURIZATION_NAME,
    TASK_NAME,
    VOCAB_NAME,
    WEIGHTS_NAME,
    MuMoConfig,
)
from mumo.model.model import MuMo

MODEL_DIR = "model"  # the saved model inside a training run's folder
REQUIRED = (CONFIG_NAME, WEIGHTS_NAME, VOCAB_NAME, TASK_NAME)
#: the files a model's predictions depend on: each present one is listed in checksums.json
VERIFIED = (*REQUIRED, FEATURIZATION_NAME)
#: checksums.json format 2 lists every VERIFIED file the folder holds; format 1 (no "format" key) the weights
CHECKSUMS_FORMAT = 2
_HEAD_PREFIXES = ("head.", "target_scaler.")

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------------
# Config and weights


def save_pretrained(model: MuMo, directory: str | os.PathLike) -> None:
    """Write the weights (buffers such as the target scaler included) and the config that rebuilds the
    model, then their checksums."""
    _write_weights_and_config(model, Path(directory))
    _write_checksums(Path(directory), [WEIGHTS_NAME, CONFIG_NAME])


def _write_weights_and_config(model: MuMo, directory: Path) -> None:
    state = {name: tensor.detach().contiguous().cpu() for name, tensor in model.state_dict().items()}
    with atomic_path(directory / WEIGHTS_NAME) as tmp:
        save_file(state, str(tmp), metadata={"format": "pt"})
    with atomic_path(directory / CONFIG_NAME) as tmp:
        tmp.write_text(json.dumps(model.config.to_dict(), indent=2, sort_keys=True) + "\n")


def _write_checksums(directory: Path, names: list[str]) -> None:
    """checksums.json: the SHA-256 of each of `names`, the files this save wrote."""
    sums = {name: sha256sum(directory / name) for name in names}
    write_json({"format": CHECKSUMS_FORMAT, "sha256": sums}, directory / CHECKSUMS_NAME)


def verify_weights(directory: str | os.PathLike) -> None:
    """Check every file `checksums.json` lists (weights, config, vocabulary, task, featurization); a
    mismatch is a ValueError naming the file, and so is a model file it does not list (left by another
    run). A folder from before mumo verified them all loads with a warning naming what is unverified."""
    directory = Path(directory)
    if not (directory / CHECKSUMS_NAME).exists():
        logger.warning(
            "%s: no %s (written before mumo kept checksums); weights not verified", directory, CHECKSUMS_NAME
        )
        return
    record = json.loads((directory / CHECKSUMS_NAME).read_text())
    for name, expected in record["sha256"].items():
        if not (directory / name).is_file():
            raise FileNotFoundError(f"{directory / name}: listed in {CHECKSUMS_NAME} but missing")
        if sha256sum(directory / name) != expected:
            raise ValueError(
                f"{directory / name}: SHA-256 differs from {CHECKSUMS_NAME} (file damaged, edited or "
                "replaced); restore it or train the model again"
            )
    unlisted = [n for n in VERIFIED if n not in record["sha256"] and (directory / n).is_file()]
    if unlisted and record.get("format", 1) >= CHECKSUMS_FORMAT:
        raise ValueError(
            f"{directory / unlisted[0]}: not listed in {CHECKSUMS_NAME}, so not part of this model (left by "
            "another run?); remove it, or save the model again"
        )
    if unlisted:
        logger.warning(
            "%s: %s not covered by %s (saved before mumo verified them): only the weights are verified",
            directory,
            ", ".join(unlisted),
            CHECKSUMS_NAME,
        )


def load_config(directory: str | os.PathLike) -> MuMoConfig:
    return MuMoConfig.from_dict(json.loads((Path(directory) / CONFIG_NAME).read_text()))


def load_weights(model: MuMo, directory: str | os.PathLike) -> None:
    """Load the verified weights of `directory` into `model` (same architecture), on the model's device."""
    verify_weights(directory)
    device = next(model.parameters()).device
    model.load_state_dict(load_file(str(Path(directory) / WEIGHTS_NAME), device=str(device)))


def load_pretrained(
    directory: str | os.PathLike, device: str | torch.device = "cpu", **overrides: Any
) -> MuMo:
    """Rebuild the model from its config (fields replaced by `overrides`) and load the saved weights.

    The weights are verified against `checksums.json` first (see `verify_weights`). If the overrides change
    the head (e.g. a pretrained checkpoint loaded with head="regression"), only the encoder is loaded and the
    new head keeps its fresh initialisation; otherwise every weight must match.
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


# --------------------------------------------------------------------------------------------------
# The whole folder


def featurization(fragments: str = "largest", conformer: dict[str, Any] | None = None) -> dict[str, Any]:
    """The standardisation fragment policy and every conformer setting (defaults filled in), as recorded."""
    if fragments not in FRAGMENT_POLICIES:
        raise ValueError(f"unknown fragment policy {fragments!r}; choose one of {FRAGMENT_POLICIES}")
    config = ConformerConfig.from_dict(conformer or {}, "conformer settings")
    return {"fragments": fragments, "conformer": dataclasses.asdict(config)}


#: "pretrain": an encoder without a property head (the data layer names the other two; model may not import it)
TASK_TYPES = ("pretrain", "classification", "regression")


@dataclass(frozen=True)
class ModelTask:
    """task.json: what a saved model predicts and how long an input it reads. `task_type` "pretrain" marks an
    encoder without a property head; a regression model also records its target scaler's statistics."""

    task_type: str
    tasks: tuple[str, ...]
    max_length: int
    target_scaler: dict[str, list[float]] | None = None

    def __post_init__(self) -> None:
        if self.task_type not in TASK_TYPES:
            raise ValueError(f"task_type {self.task_type!r}; expected one of {', '.join(TASK_TYPES)}")
        if self.is_encoder != (not self.tasks):
            raise ValueError(
                f"a {self.task_type} model with tasks {list(self.tasks)}: only an encoder has none"
            )
        object.__setattr__(self, "tasks", tuple(self.tasks))

    @classmethod
    def encoder(cls, max_length: int) -> ModelTask:
        return cls("pretrain", (), max_length)

    @property
    def is_encoder(self) -> bool:
        return self.task_type == "pretrain"

    def to_json(self) -> dict[str, Any]:
        record = {"task_type": self.task_type, "tasks": list(self.tasks), "max_length": self.max_length}
        return record if self.target_scaler is None else record | {"target_scaler": self.target_scaler}


def save_model(
    directory: str | os.PathLike,
    model: MuMo,
    tokenizer: SmilesTokenizer,
    task: ModelTask,
    featurized: dict[str, Any] | None = None,
) -> None:
    """Write the folder: config and weights, vocabulary, `featurized` (see `featurization`) and task, whose
    target scaler statistics are taken from the model; then the checksums of them all."""
    directory = Path(directory)
    _write_weights_and_config(model, directory)
    tokenizer.save(directory / VOCAB_NAME)
    written = [WEIGHTS_NAME, CONFIG_NAME, VOCAB_NAME, TASK_NAME]
    if featurized is not None:
        write_json(featurized, directory / FEATURIZATION_NAME)
        written.append(FEATURIZATION_NAME)
    if model.target_scaler is not None:
        scaler = model.target_scaler
        statistics = {"mean": scaler.mean.tolist(), "std": scaler.std.tolist()}
        task = dataclasses.replace(task, target_scaler=statistics)
    write_text_atomic(directory / TASK_NAME, json.dumps(task.to_json(), indent=2) + "\n")
    _write_checksums(directory, written)  # last: a folder saved whole lists every file it holds


def find_model(path: str | os.PathLike) -> Path:
    """The model folder itself, or a run folder holding `model/`."""
    path = Path(path)
    for candidate in (path, path / MODEL_DIR):
        if (candidate / CONFIG_NAME).exists() and (candidate / TASK_NAME).exists():
            return candidate
    raise FileNotFoundError(
        f"{path}: no trained model (expected {CONFIG_NAME} and {TASK_NAME} in it or in {MODEL_DIR}/)"
    )


def read_task(directory: str | os.PathLike) -> ModelTask:
    """The folder's task.json; a missing or unknown key is an error naming the file."""
    path = Path(directory) / TASK_NAME
    record = json.loads(path.read_text())
    try:
        return ModelTask(**record)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{path}: {err}") from None


def read_featurization(directory: str | os.PathLike) -> dict[str, Any]:
    """What the model's molecules went through (the defaults, with a warning, for a folder without a record)."""
    path = Path(directory) / FEATURIZATION_NAME
    if path.exists():
        record = json.loads(path.read_text())
        removed = sorted(set(record["conformer"]) & set(REMOVED_SETTINGS))
        if removed:
            logger.warning(
                "%s: conformer setting(s) %s no longer exist and are ignored (%s): a molecule that fell back "
                "to 2D at training may now embed, or the reverse",
                path,
                ", ".join(removed),
                "; ".join(REMOVED_SETTINGS[key] for key in removed),
            )
            record["conformer"] = {k: v for k, v in record["conformer"].items() if k not in removed}
        ConformerConfig.from_dict(record["conformer"], str(path))  # any other unknown key fails here
        return record
    logger.warning(
        "%s: no %s (trained before mumo recorded it): assuming the largest fragment and default conformer "
        "settings, which may differ from its training",
        directory,
        FEATURIZATION_NAME,
    )
    return featurization()


def verify(directory: str | os.PathLike) -> None:
    """Check that the folder is complete and its weights intact; the error names the missing or bad file."""
    _require_files(Path(directory))
    verify_weights(directory)


def _require_files(directory: Path) -> None:
    for name in REQUIRED:
        if not (directory / name).is_file():
            raise FileNotFoundError(
                f"{directory / name}: missing from the saved model (a model folder holds {', '.join(REQUIRED)})"
            )


@dataclass(frozen=True)
class SavedModel:
    """A loaded model folder: the model (eval mode) and what it needs to read molecules as it was trained."""

    directory: Path
    model: MuMo
    tokenizer: SmilesTokenizer
    task: ModelTask
    featurization: dict[str, Any]

    @property
    def config(self) -> MuMoConfig:
        return self.model.config

    @property
    def conformer(self) -> ConformerConfig:
        return ConformerConfig(**self.featurization["conformer"])


def load_model(directory: str | os.PathLike, device: str | torch.device = "cpu") -> SavedModel:
    """Verify and load a model folder (or a run folder holding `model/`)."""
    directory = find_model(directory)
    _require_files(directory)  # the weights are verified as they load
    return SavedModel(
        directory=directory,
        model=load_pretrained(directory, device=device).eval(),
        tokenizer=SmilesTokenizer.load(directory / VOCAB_NAME),
        task=read_task(directory),
        featurization=read_featurization(directory),
    )
