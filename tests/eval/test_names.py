import dataclasses

import pytest

from mumo.catalog import MODELS, PRESET_NAMES
from mumo.eval import names
from mumo.eval.names import display_name, size_label
from mumo.model import MuMoEncoder, get_preset


@pytest.mark.parametrize("preset", list(PRESET_NAMES))
def test_display_names_are_distinct_and_name_the_preset(preset):
    shown = {model: display_name(model, preset) for model in MODELS}
    assert len(set(shown.values())) == len(shown)
    assert not any("{" in name for name in shown.values())
    words = PRESET_NAMES[preset].format(size=size_label(preset))
    assert words in shown["mumo"] and words in shown["mumo_seq_only"]
    assert shown["mumo_paper"] == "MuMo (paper, 438 M)"  # its preset is fixed, whatever the config's


def test_the_cpu_demo_is_never_named_like_the_paper_model():
    assert display_name("mumo", "small") == "MuMo small (CPU demo, 3.3 M)"
    assert (
        display_name("mean", "small") == "Mean (dummy)" and display_name("ecfp_rf", "small") == "ECFP4 + RF"
    )


def test_sizes_are_counted_from_the_preset_not_typed(monkeypatch):
    """The label is the encoder's parameter count; a preset whose width changes is renamed with it."""
    small = get_preset("small")
    assert size_label("small") == f"{sum(p.numel() for p in MuMoEncoder(small).parameters()) / 1e6:.1f} M"
    wider = dataclasses.replace(small, hidden_size=2 * small.hidden_size, d_inner=2 * small.d_inner)
    monkeypatch.setitem(names.PRESETS, "small", wider)
    size_label.cache_clear()
    try:
        assert display_name("mumo", "small") != "MuMo small (CPU demo, 3.3 M)"
        assert display_name("mumo", "small").startswith("MuMo small (CPU demo, ")
    finally:
        size_label.cache_clear()


def test_an_unknown_preset_is_shown_by_its_name():
    assert display_name("mumo", "custom") == "MuMo custom"
