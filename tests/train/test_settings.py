import pytest

from mumo.train.settings import TrainSettings, read_settings_file


def test_unknown_key_is_named_and_valid_keys_listed():
    with pytest.raises(ValueError, match=r"unknown training setting\(s\) \['learning_rate'\]") as error:
        TrainSettings.from_dict({"learning_rate": 1e-3, "epochs": 2})
    assert "lr" in str(error.value) and "batch_size" in str(error.value)


def test_unknown_model_field_is_named():
    with pytest.raises(ValueError, match=r"unknown MuMoConfig field\(s\) \['d_model'\].*hidden_size"):
        TrainSettings.from_dict({"model": {"d_model": 64}})


def test_invalid_choice_lists_the_valid_ones():
    with pytest.raises(ValueError, match="selection='best'; valid: last, best_valid"):
        TrainSettings.from_dict({"selection": "best"})


def test_yaml_scientific_notation_is_a_number(tmp_path):
    path = tmp_path / "settings.yaml"
    path.write_text("lr: 1e-4\nmodel:\n  hidden_size: 64\nbetas: [0.9, 0.98]\n")
    settings = TrainSettings.from_dict(read_settings_file(path))
    assert settings.lr == 1e-4 and settings.betas == (0.9, 0.98) and settings.model == {"hidden_size": 64}


def test_fingerprint_ignores_execution_keys_only():
    base = TrainSettings.from_dict({})
    assert base.fingerprint() == TrainSettings.from_dict({"num_workers": 3, "progress": False}).fingerprint()
    assert base.fingerprint() != TrainSettings.from_dict({"lr": 1.0}).fingerprint()


def test_cli_settings_file_then_dotted_overrides(tmp_path):
    from mumo.cli import _settings, build_parser

    (tmp_path / "s.yaml").write_text("epochs: 3\nmodel: {pooler: bipooler}\n")
    args = build_parser().parse_args(
        ["pretrain", "--corpus=c", "--store=s", "--vocab=v", "--out=o", f"--settings={tmp_path / 's.yaml'}"]
        + ["--set", "model.hidden_size=64", "--set", "lr=1e-3", "--set", "eval_every=null"]
    )
    settings = _settings(args)
    assert settings == {
        "epochs": 3,
        "model": {"pooler": "bipooler", "hidden_size": 64},
        "lr": "1e-3",
        "eval_every": None,
    }
    assert TrainSettings.from_dict(settings).lr == 1e-3
