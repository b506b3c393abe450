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


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"lr": -1}, r"setting lr must be a finite number > 0, got -1"),
        ({"lr": "fast"}, r"setting lr must be a number, got 'fast'"),
        ({"betas": [0.9]}, r"setting betas must be two numbers in \[0, 1\), got \[0.9\]"),
        ({"betas": [0.9, 1.5]}, r"setting betas must be two numbers in \[0, 1\)"),
        ({"epochs": 1.5}, r"setting epochs must be an integer, got 1.5"),
        ({"epochs": "3"}, r"setting epochs must be an integer, got '3'"),
        ({"batch_size": True}, r"setting batch_size must be an integer, got True"),
        ({"mask_prob": 2.0}, r"setting mask_prob must be in \(0, 1\], got 2.0"),
        ({"num_workers": -1}, r"setting num_workers must be >= 0, got -1"),
        ({"warmup_steps": -5}, r"setting warmup_steps must be >= 0, got -5"),
        ({"weight_decay": -0.1}, r"setting weight_decay must be a finite number >= 0, got -0.1"),
        ({"clip": float("inf")}, r"setting clip must be a finite number >= 0, got inf"),
        ({"max_length": 0}, r"setting max_length must be >= 1 or null, got 0"),
        ({"progress": "no"}, r"setting progress must be true or false, got 'no'"),
        ({"seed": None}, r"setting seed must be an integer, got None"),
        ({"zero_stage": 1}, r"setting zero_stage=1; valid: 0, 2"),
        ({"valid_fraction": 1.0}, r"setting valid_fraction must be in \[0, 1\), got 1.0"),
        # every type is checked before any range: the wrong type is named, not the range of another setting
        ({"epochs": 0, "lr": "fast"}, r"setting lr must be a number, got 'fast'"),
    ],
)
def test_bad_values_are_refused_naming_the_setting(value, message):
    with pytest.raises(ValueError, match=message):
        TrainSettings.from_dict(value)


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
        [
            "pretrain",
            "--corpus=c",
            "--store=s",
            "--vocab=v",
            "--output=o",
            f"--settings={tmp_path / 's.yaml'}",
        ]
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
