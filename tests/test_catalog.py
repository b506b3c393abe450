import pytest

from mumo.catalog import MODELS, PRESET_NAMES, display_name


@pytest.mark.parametrize("preset", list(PRESET_NAMES))
def test_display_names_are_distinct_and_name_the_preset(preset):
    names = {model: display_name(model, preset) for model in MODELS}
    assert len(set(names.values())) == len(names)
    assert not any("{" in name for name in names.values())
    assert PRESET_NAMES[preset] in names["mumo"] and PRESET_NAMES[preset] in names["mumo_seq_only"]
    assert names["mumo_paper"] == "MuMo (paper, 438 M)"  # its preset is fixed, whatever the config's


def test_the_cpu_demo_is_never_named_like_the_paper_model():
    assert display_name("mumo", "small") == "MuMo small (CPU demo, 3.3 M)"
    assert (
        display_name("mean", "small") == "Mean (dummy)" and display_name("ecfp_rf", "small") == "ECFP4 + RF"
    )
