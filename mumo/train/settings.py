"""Training settings: one flat dataclass, built from the pipeline's dict or a YAML/JSON file.

Unknown keys are an error that names them and lists the valid ones, so a typo in a config never silently
falls back to a default.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mumo.model.compile import COMPILE_MODE_ERROR, is_compile_mode
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


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _one_of(valid: tuple) -> tuple[Callable[[Any], bool], str]:
    """A membership test and its error, which lists the valid values."""
    return (lambda value: value in valid), "setting {name}={value!r}; valid: " + ", ".join(map(str, valid))


_NOT_INT = "setting {name} must be an integer, got {value!r}"
#: TrainSettings' checks, as (settings, test a valid value passes, error message with {name} and {value}), run
#: in this order: every type first, so that a range test only ever meets a value of the right type.
_CHECKS: tuple[tuple[tuple[str, ...], Callable[[Any], bool], str], ...] = (
    (_POSITIVE_INTS, _is_int, _NOT_INT),
    (_OPTIONAL_INTS, lambda value: value is None or _is_int(value), _NOT_INT),
    ((*_NON_NEGATIVE_INTS, "seed", "zero_stage"), _is_int, _NOT_INT),
    (
        ("resume", "progress", "keep_checkpoints"),
        lambda value: isinstance(value, bool),
        "setting {name} must be true or false, got {value!r}",
    ),
    (("compile",), is_compile_mode, COMPILE_MODE_ERROR),
    (
        tuple(sorted(_FLOATS)),
        lambda value: isinstance(value, int | float) and not isinstance(value, bool),
        "setting {name} must be a number, got {value!r}",
    ),
    (("schedule",), *_one_of(SCHEDULES)),
    (("selection",), *_one_of(SELECTIONS)),
    (("precision",), *_one_of(PRECISIONS)),
    (("zero_stage",), *_one_of((0, 2))),
    (_POSITIVE_INTS, lambda value: value >= 1, "setting {name} must be >= 1, got {value}"),
    (_NON_NEGATIVE_INTS, lambda value: value >= 0, "setting {name} must be >= 0, got {value}"),
    (
        _OPTIONAL_INTS,
        lambda value: value is None or value >= 1,
        "setting {name} must be >= 1 or null, got {value}",
    ),
    (
        ("lr", "eps"),
        lambda value: math.isfinite(value) and value > 0,
        "setting {name} must be a finite number > 0, got {value}",
    ),
    (
        ("weight_decay", "clip"),
        lambda value: math.isfinite(value) and value >= 0,
        "setting {name} must be a finite number >= 0, got {value}",
    ),
    (
        ("betas",),
        lambda value: (
            isinstance(value, tuple)
            and len(value) == 2
            and all(isinstance(b, float) and 0 <= b < 1 for b in value)
        ),
        "setting {name} must be two numbers in [0, 1), got {value}",
    ),
    (("valid_fraction",), lambda value: 0 <= value < 1, "setting {name} must be in [0, 1), got {value}"),
    (("mask_prob",), lambda value: 0 < value <= 1, "setting {name} must be in (0, 1], got {value}"),
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
        for names, valid, message in _CHECKS:
            for name in names:
                value = getattr(self, name)
                if not valid(value):
                    # a tuple (betas) is shown as the list the config wrote
                    shown = list(value) if isinstance(value, tuple) else value
                    raise ValueError(message.format(name=name, value=shown))
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
