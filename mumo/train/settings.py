"""Training settings: one flat dataclass, built from the pipeline's dict or a YAML/JSON file.

Unknown keys are an error that names them and lists the valid ones, so a typo in a config never silently
falls back to a default.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mumo.model.compile import check_compile_mode
from mumo.model.config import MuMoConfig, get_preset

SCHEDULES = ("linear", "cosine", "constant")
SELECTIONS = ("last", "best_valid")
PRECISIONS = ("auto", "fp32", "bf16")

_FLOATS = {"lr", "weight_decay", "eps", "clip", "valid_fraction", "mask_prob"}

_POSITIVE_INTS = ("epochs", "batch_size", "grad_accum", "log_every")
_NON_NEGATIVE_INTS = ("warmup_steps", "num_workers")
_OPTIONAL_INTS = (
    "max_steps",
    "eval_every",
    "checkpoint_every",
    "max_steps_this_invocation",
    "patience",
    "max_length",
)

#: Keys that change how a run is executed or reported, not what it computes: a checkpoint written under other
#: values of these may be resumed.
EXECUTION_KEYS = frozenset(
    {
        "num_workers",
        "log_every",
        "checkpoint_every",
        "resume",
        "max_steps_this_invocation",
        "progress",
        "keep_checkpoints",
        "compile",
    }
)


@dataclass(frozen=True)
class TrainSettings:
    """Everything a pretraining or finetuning run needs besides its data paths.

    Steps count optimizer steps (one step = `batch_size` × `grad_accum` × world size molecules).
    """

    # model
    preset: str = (
        "small"  # mumo.model preset; ignored (with a log line) when finetuning from a pretrained dir
    )
    model: dict[str, Any] = field(
        default_factory=dict
    )  # MuMoConfig fields passed to get_preset/load_pretrained
    max_length: int | None = None  # tokens incl. [CLS]/[SEP]; None: 512 for pretraining, 1024 for finetuning
    # optimisation
    epochs: int = 1
    max_steps: int | None = None  # stops at whichever of epochs / max_steps comes first
    batch_size: int = 32  # molecules per micro-batch per process
    grad_accum: int = 1
    lr: float = 3e-4
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    warmup_steps: int = 10
    schedule: str = "linear"  # after warm-up: linear or cosine decay to 0, or constant
    clip: float = 1.0
    zero_stage: int = 0  # 0 or 2 (mumo/train/deepspeed/zero{stage}.json)
    precision: str = "auto"  # auto: bf16 autocast on CUDA, fp32 on CPU
    seed: int = 42
    # evaluation and selection
    selection: str = "best_valid"  # "last": the paper's protocol; "best_valid": lowest validation loss
    patience: int | None = 5  # best_valid: stop after this many evaluations without improvement (None: never)
    eval_every: int | None = None  # steps between validations; None: once per epoch
    valid_fraction: float = 0.05  # pretraining: held-out slice of the corpus for the validation loss
    mask_prob: float = 0.15  # pretraining: masked-token selection probability (docs/model.md §2.6)
    # execution and logging
    num_workers: int = 1  # DataLoader worker processes
    log_every: int = 1
    checkpoint_every: int | None = None  # steps; None: at the end of each epoch
    resume: bool = True  # continue from out_dir/checkpoints when it holds a checkpoint of the same settings
    max_steps_this_invocation: int | None = None  # stop (after a checkpoint) once this many steps ran here
    progress: bool = True  # tqdm progress bar
    keep_checkpoints: bool = False  # keep checkpoints/ and best/ after a finished run (they are resume state)
    # torch.compile the encoder and head over bucketed shapes: false, true ("default"), "reduce-overhead"
    # (CUDA graphs); for GPUs: on CPU each shape compiles for minutes and steps are not faster
    compile: bool | str = False

    def __post_init__(self) -> None:
        """Refuse every value a run could not use, naming the setting, before any job starts."""
        for name in (*_POSITIVE_INTS, *_OPTIONAL_INTS, *_NON_NEGATIVE_INTS, "seed", "zero_stage"):
            value = getattr(self, name)
            if not (isinstance(value, int) and not isinstance(value, bool)) and not (
                value is None and name in _OPTIONAL_INTS
            ):
                raise ValueError(f"setting {name} must be an integer, got {value!r}")
        for name in ("resume", "progress", "keep_checkpoints"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"setting {name} must be true or false, got {getattr(self, name)!r}")
        check_compile_mode(self.compile)
        for name in _FLOATS:
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise ValueError(f"setting {name} must be a number, got {value!r}")
        choices = {
            "schedule": SCHEDULES,
            "selection": SELECTIONS,
            "precision": PRECISIONS,
            "zero_stage": (0, 2),
        }
        for name, valid in choices.items():
            if getattr(self, name) not in valid:
                raise ValueError(
                    f"setting {name}={getattr(self, name)!r}; valid: {', '.join(map(str, valid))}"
                )
        for name in _POSITIVE_INTS:
            if getattr(self, name) < 1:
                raise ValueError(f"setting {name} must be >= 1, got {getattr(self, name)}")
        for name in _NON_NEGATIVE_INTS:
            if getattr(self, name) < 0:
                raise ValueError(f"setting {name} must be >= 0, got {getattr(self, name)}")
        for name in _OPTIONAL_INTS:
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"setting {name} must be >= 1 or null, got {value}")
        for name in ("lr", "eps"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) > 0):
                raise ValueError(f"setting {name} must be a finite number > 0, got {getattr(self, name)}")
        for name in ("weight_decay", "clip"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) >= 0):
                raise ValueError(f"setting {name} must be a finite number >= 0, got {getattr(self, name)}")
        if not (
            isinstance(self.betas, tuple)
            and len(self.betas) == 2
            and all(isinstance(b, float) and 0 <= b < 1 for b in self.betas)
        ):
            raise ValueError(f"setting betas must be two numbers in [0, 1), got {list(self.betas)}")
        if not 0 <= self.valid_fraction < 1:
            raise ValueError(f"setting valid_fraction must be in [0, 1), got {self.valid_fraction}")
        if not 0 < self.mask_prob <= 1:
            raise ValueError(f"setting mask_prob must be in (0, 1], got {self.mask_prob}")
        fields = [f.name for f in dataclasses.fields(MuMoConfig)]
        if not isinstance(self.model, dict) or set(self.model) - set(fields):
            wrong = sorted(set(self.model) - set(fields)) if isinstance(self.model, dict) else self.model
            raise ValueError(
                f"setting model: unknown MuMoConfig field(s) {wrong}; valid fields: {', '.join(fields)}"
            )

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> TrainSettings:
        data = dict(data or {})
        valid = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(data) - set(valid))
        if unknown:
            raise ValueError(f"unknown training setting(s) {unknown}; valid settings: {', '.join(valid)}")
        # YAML 1.1 (PyYAML) reads 1e-4 as a string: accept numbers written that way
        if isinstance(data.get("betas"), list | tuple):
            data["betas"] = tuple(_as_float(b) for b in data["betas"])
        for name in _FLOATS & data.keys():
            data[name] = _as_float(data[name])
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def tokens_from_raw_smiles(self) -> bool:
        """Whether finetuning reads the table's SMILES as given: the quirk as the preset and `model` set it."""
        return get_preset(self.preset, **self.model).tokens_from_raw_smiles

    def fingerprint(self) -> str:
        """The settings that determine the result (not EXECUTION_KEYS), as canonical JSON."""
        kept = {k: v for k, v in self.to_dict().items() if k not in EXECUTION_KEYS}
        return json.dumps(kept, sort_keys=True, default=str)


def _as_float(value: Any) -> Any:
    """A number as float (also one written as a YAML string such as '1e-4'); anything else unchanged, so
    that validation names the setting and the value rather than float() failing without either."""
    if isinstance(value, bool):
        return value
    try:
        return float(value) if isinstance(value, int | float | str) else value
    except ValueError:
        return value


def read_settings_file(path: str | os.PathLike) -> dict[str, Any]:
    """A YAML or JSON mapping (JSON is YAML); an empty file is an empty mapping."""
    data = yaml.safe_load(Path(path).read_text())
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: settings must be a mapping, got {type(data).__name__}")
    return data
