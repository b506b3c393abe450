"""The models a run can ask for, by name: the ECFP+RF baseline, MuMo, its paper/fixed presets and ablations.

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
    kind: str  # "ecfp_rf" | "mumo"
    description: str
    preset: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    pretrained: bool = True
    ablation: bool = False  # an ablation of `mumo` (same preset, one component changed)


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in [
        ModelSpec("ecfp_rf", "ecfp_rf", "ECFP4 (Morgan r=2, 2,048 bits) + random forest baseline"),
        ModelSpec("mumo", "mumo", "MuMo at the config's preset, pretrained then finetuned"),
        ModelSpec("mumo_paper", "mumo", "MuMo, paper sizes with the paper's quirks on", preset="paper"),
        ModelSpec("mumo_fixed", "mumo", "MuMo, paper sizes with the quirks fixed", preset="fixed"),
        ModelSpec(
            "mumo_seq_only",
            "mumo",
            "ablation: sequence only, no structural prior",
            overrides={"use_graph": False},
            ablation=True,
        ),
        ModelSpec(
            "mumo_no_geometry",
            "mumo",
            "ablation: 2D graph without 3D bond angles",
            overrides={"use_geometry": False},
            ablation=True,
        ),
        ModelSpec(
            "mumo_no_fragments",
            "mumo",
            "ablation: fusion without the BRICS view",
            overrides={"use_fragments": False},
            ablation=True,
        ),
        ModelSpec(
            "mumo_add_injection",
            "mumo",
            "ablation: prior added, no injection-enhanced attention",
            overrides={"injection": "add"},
            ablation=True,
        ),
        ModelSpec(
            "mumo_no_pretrain",
            "mumo",
            "ablation: MuMo finetuned from random weights",
            pretrained=False,
            ablation=True,
        ),
    ]
}

ABLATIONS: tuple[str, ...] = tuple(name for name, spec in MODELS.items() if spec.ablation)


def get_model(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; valid models: {', '.join(MODELS)}") from None
