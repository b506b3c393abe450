"""The names a reader of the tables and figures sees: the catalog's templates with each preset's size counted
from its configuration (`mumo.model.encoder_parameters`), never typed, so a changed preset renames itself."""

from __future__ import annotations

from functools import cache

from mumo.catalog import PRESET_NAMES, get_model
from mumo.model.config import PRESETS


@cache
def size_label(preset: str) -> str:
    """Encoder parameters of a preset, as a figure prints them: "3.3 M", "438 M", "52 k"."""
    from mumo.model import encoder_parameters  # torch: only when a size is asked for

    count = encoder_parameters(PRESETS[preset])
    if count >= 100e6:
        return f"{count / 1e6:.0f} M"
    return f"{count / 1e6:.1f} M" if count >= 1e6 else f"{count / 1e3:.0f} k"


def display_name(name: str, preset: str) -> str:
    """The name a figure shows for model `name` when the config's `mumo.preset` is `preset`."""
    spec = get_model(name)
    if "{" not in spec.display:
        return spec.display
    own = spec.preset or preset
    words = PRESET_NAMES.get(preset, preset)
    return spec.display.format(
        preset=words.format(size=size_label(preset)) if preset in PRESETS else words,
        size=size_label(own) if own in PRESETS else own,
    )
