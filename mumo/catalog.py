"""The models a run can ask for, by name: the mean, ECFP+RF and Chemprop baselines, MuMo, its paper/fixed
presets and ablations, each with the name a reader of the figures sees.

A MuMo entry is a preset (None: the config's `mumo.preset`) plus MuMoConfig overrides, and says whether it
starts from its own pretraining run. Ablations change the architecture, so each one is pretrained with that
architecture; `mumo_no_pretrain` starts from random weights.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ModelSpec:
    name: str
    kind: str  # "mean" | "ecfp_rf" | "chemprop" | "mumo"
    description: str
    #: the figures' name: "{preset}" stands for the config's `mumo.preset` as PRESET_NAMES words it, "{size}" for
    #: the encoder parameters of the model's own preset (`mumo.eval.names.display_name` fills both)
    display: str
    preset: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    pretrained: bool = True
    ablation: bool = False  # an ablation of `mumo` (same preset, one component changed)


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in [
        ModelSpec(
            "mean",
            "mean",
            "dummy baseline: the training fold's mean (regression) or positive rate (classification) per task",
            "Mean (dummy)",
        ),
        ModelSpec(
            "ecfp_rf", "ecfp_rf", "ECFP4 (Morgan r=2, 2,048 bits) + random forest baseline", "ECFP4 + RF"
        ),
        ModelSpec(
            "chemprop",
            "chemprop",
            "Chemprop v2 D-MPNN baseline (bond message passing, mean aggregation, FFN; the `chemprop:` settings)",
            "Chemprop (D-MPNN)",
        ),
        ModelSpec("mumo", "mumo", "MuMo at the config's preset, pretrained then finetuned", "MuMo {preset}"),
        ModelSpec(
            "mumo_paper",
            "mumo",
            "MuMo, paper sizes with the paper's quirks on",
            "MuMo (paper, {size})",
            preset="paper",
        ),
        ModelSpec(
            "mumo_fixed",
            "mumo",
            "MuMo, paper sizes with the quirks fixed",
            "MuMo (paper size, quirks fixed)",
            preset="fixed",
        ),
        ModelSpec(
            "mumo_seq_only",
            "mumo",
            "ablation: sequence only, no structural prior",
            "MuMo {preset}: sequence only",
            overrides={"use_graph": False},
            ablation=True,
        ),
        ModelSpec(
            "mumo_no_geometry",
            "mumo",
            "ablation: 2D graph without 3D bond angles",
            "MuMo {preset}: no 3D angles",
            overrides={"use_geometry": False},
            ablation=True,
        ),
        ModelSpec(
            "mumo_no_fragments",
            "mumo",
            "ablation: fusion without the BRICS view",
            "MuMo {preset}: no BRICS view",
            overrides={"use_fragments": False},
            ablation=True,
        ),
        ModelSpec(
            "mumo_add_injection",
            "mumo",
            "ablation: prior added, no injection-enhanced attention",
            "MuMo {preset}: prior added",
            overrides={"injection": "add"},
            ablation=True,
        ),
        ModelSpec(
            "mumo_no_pretrain",
            "mumo",
            "ablation: MuMo finetuned from random weights",
            "MuMo {preset}: not pretrained",
            pretrained=False,
            ablation=True,
        ),
    ]
}

#: how the figures name `{preset}` ("{size}": its encoder parameters): the CPU demo must never read as the paper's model
PRESET_NAMES = {
    "tiny": "tiny (test, {size})",
    "small": "small (CPU demo, {size})",
    "paper": "(paper preset, {size})",
    "fixed": "(fixed preset, {size})",
}

ABLATIONS: tuple[str, ...] = tuple(name for name, spec in MODELS.items() if spec.ablation)


def get_model(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; valid models: {', '.join(MODELS)}") from None
