"""The saved model folder: written by save_model, read whole by load_model, checked by verify."""

import json

import pytest
import torch
from helpers import edit_saved_json, weights_only_checksums

from mumo.chem.conformer import ConformerConfig
from mumo.chem.tokenizer import SmilesTokenizer
from mumo.model import MuMo, get_preset
from mumo.model.saved import ModelTask, featurization, find_model, load_model, read_task, save_model, verify

TASK = ModelTask("regression", ("logS",), 64)


@pytest.fixture
def saved(tmp_path, batch):
    """A run folder holding a tiny regression model in `model/`; returns (run folder, model, tokenizer)."""
    tokenizer = SmilesTokenizer.build(["CCO", "c1ccccc1O", "CC(=O)N"])
    model = MuMo(get_preset("tiny", head="regression")).eval()
    model.target_scaler.fit(batch.labels.numpy())
    save_model(tmp_path / "run" / "model", model, tokenizer, TASK, featurization("keep", {"max_iters": 7}))
    return tmp_path / "run", model, tokenizer


def test_a_saved_model_loads_whole_and_predicts_the_same(saved, batch):
    run, model, tokenizer = saved
    loaded = load_model(run)  # a run folder is found through its model/
    assert loaded.directory == run / "model" == find_model(run / "model")
    assert not loaded.model.training
    assert torch.equal(loaded.model.predict(batch), model.predict(batch))
    assert loaded.config == model.config
    assert loaded.tokenizer.vocab_hash == tokenizer.vocab_hash
    scaler = model.target_scaler
    statistics = {"mean": scaler.mean.tolist(), "std": scaler.std.tolist()}
    assert loaded.task == ModelTask("regression", ("logS",), 64, statistics)
    assert json.loads((run / "model" / "task.json").read_text()) == {
        "task_type": "regression",
        "tasks": ["logS"],
        "max_length": 64,
        "target_scaler": statistics,
    }
    assert loaded.featurization["fragments"] == "keep"
    assert loaded.conformer == ConformerConfig(max_iters=7)


def test_a_corrupted_weight_file_is_detected_naming_it(saved):
    folder = saved[0] / "model"
    weights = folder / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-4:] = bytes(b ^ 0xFF for b in data[-4:])  # same size, still a valid file: only a tensor differs
    weights.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=rf"{weights}: SHA-256 differs from checksums.json"):
        verify(folder)
    with pytest.raises(ValueError, match=rf"{weights}: SHA-256 differs"):
        load_model(folder)


@pytest.mark.parametrize("name", ["vocab.json", "model.safetensors"])
def test_a_missing_file_is_named(saved, name):
    folder = saved[0] / "model"
    verify(folder)
    (folder / name).unlink()
    with pytest.raises(FileNotFoundError, match=rf"{folder / name}: missing from the saved model"):
        verify(folder)
    with pytest.raises(FileNotFoundError, match=rf"{folder / name}: missing"):
        load_model(folder)


def test_a_folder_without_a_model_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=rf"{tmp_path}: no trained model"):
        load_model(tmp_path)


def test_a_model_saved_before_featurization_was_recorded_loads_with_defaults(saved, caplog):
    folder = saved[0] / "model"
    weights_only_checksums(folder)  # as saved before mumo recorded featurisations
    (folder / "featurization.json").unlink()
    loaded = load_model(folder)
    assert loaded.featurization == featurization() and loaded.conformer == ConformerConfig()
    assert "no featurization.json" in caplog.text


def test_a_model_recorded_with_the_removed_time_budget_loads_with_a_warning(saved, caplog):
    """A folder trained when `timeout_s` existed still predicts: the setting is dropped, loudly."""
    path = saved[0] / "model" / "featurization.json"
    weights_only_checksums(path.parent)  # as saved then
    record = json.loads(path.read_text())
    recorded = ConformerConfig(**record["conformer"])
    record["conformer"]["timeout_s"] = 10
    path.write_text(json.dumps(record))
    loaded = load_model(path.parent)
    assert loaded.conformer == recorded
    assert f"{path}: conformer setting(s) timeout_s no longer exist and are ignored" in caplog.text


def test_a_model_recorded_with_an_unknown_conformer_setting_is_refused_naming_the_file(saved):
    path = saved[0] / "model" / "featurization.json"
    record = json.loads(path.read_text())
    edit_saved_json(path.parent, "featurization.json", conformer=record["conformer"] | {"max_attempts": 10})
    with pytest.raises(ValueError, match=rf"^{path}: unknown conformer setting 'max_attempts' \(known: "):
        load_model(path.parent)


@pytest.mark.parametrize(
    ("name", "edit"),
    [
        ("config.json", lambda c: c | {"n_heads": 4 if c["n_heads"] != 4 else 2}),
        ("task.json", lambda t: t | {"max_length": 32}),
        ("featurization.json", lambda f: f | {"fragments": "largest"}),
        ("vocab.json", None),
    ],
)
def test_every_file_the_model_depends_on_is_verified_naming_it(saved, name, edit):
    """An edited config (n_heads 2 -> 4 used to load and predict other numbers with status ok), task,
    featurisation or vocabulary is refused like garbled weights."""
    folder = saved[0] / "model"
    path = folder / name
    if edit is None:
        path.write_text(path.read_text().replace("[CLS]", "[CLS] "))
    else:
        path.write_text(json.dumps(edit(json.loads(path.read_text()))))
    with pytest.raises(ValueError, match=rf"{path}: SHA-256 differs from checksums.json"):
        load_model(folder)


def test_a_model_file_the_checksums_do_not_list_is_refused(saved):
    """A featurization.json left in the folder by another run would change how molecules are featurised."""
    folder = saved[0] / "model"
    record = json.loads((folder / "checksums.json").read_text())
    del record["sha256"]["featurization.json"]
    (folder / "checksums.json").write_text(json.dumps(record))
    with pytest.raises(ValueError, match=rf"{folder / 'featurization.json'}: not listed in checksums.json"):
        load_model(folder)


def test_a_folder_whose_checksums_cover_only_the_weights_loads_with_a_warning(saved, caplog, batch):
    """Models saved (or imported) before mumo verified every file still load, saying what is unverified."""
    run, model, _ = saved
    folder = run / "model"
    weights = json.loads((folder / "checksums.json").read_text())["sha256"]["model.safetensors"]
    (folder / "checksums.json").write_text(json.dumps({"sha256": {"model.safetensors": weights}}))
    loaded = load_model(folder)
    assert torch.equal(loaded.model.predict(batch), model.predict(batch))
    assert (
        "config.json, vocab.json, task.json, featurization.json not covered by checksums.json" in caplog.text
    )


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (
            {"task_type": "multiclass", "tasks": ["y"], "max_length": 8},
            "task_type 'multiclass'; expected one of",
        ),
        ({"task_type": "pretrain", "tasks": ["y"], "max_length": 8}, "a pretrain model with tasks"),
        ({"task_type": "regression", "tasks": [], "max_length": 8}, "a regression model with tasks"),
        ({"task_type": "regression", "tasks": ["y"]}, "max_length"),
        ({"task_type": "regression", "tasks": ["y"], "max_length": 8, "classes": 2}, "classes"),
    ],
)
def test_a_task_file_that_is_not_a_model_task_is_refused_naming_it(tmp_path, record, message):
    (tmp_path / "task.json").write_text(json.dumps(record))
    with pytest.raises(ValueError, match=rf"^{tmp_path / 'task.json'}: .*{message}"):
        read_task(tmp_path)


def test_an_encoder_task_has_no_tasks():
    assert ModelTask.encoder(128).to_json() == {"task_type": "pretrain", "tasks": [], "max_length": 128}
    assert ModelTask.encoder(128).is_encoder and not TASK.is_encoder
