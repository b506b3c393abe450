"""Pretraining and finetuning end to end on tiny real data (tiny preset, in this process)."""

import json
import re
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from mumo.chem.store import build_shard
from mumo.eval.evaluate import evaluate_file
from mumo.model import get_preset
from mumo.model.saved import load_config
from mumo.train import engine, predict, recipes
from mumo.train.data import LengthBatchSampler, eval_batches
from mumo.train.predict import predict_dataset
from mumo.train.recipes import run_finetune, run_pretrain

PREDICTION_COLUMNS = ["mol_id", "canonical_smiles", "fold", "task", "y_true", "y_pred"]


@pytest.fixture(scope="module")
def pretrained_six_epochs(tiny_data, tiny, tmp_path_factory):
    """A tiny model pretrained for six epochs: a slow fixture (tests/conftest.py)."""
    out = tmp_path_factory.mktemp("pretrain")
    settings = tiny | {
        "epochs": 6,
        "batch_size": 16,
        "valid_fraction": 0.15,
        "selection": "last",
        "eval_every": 3,
    }
    run_pretrain(tiny_data.pretrain_data(), str(out), settings)
    return out


def test_pretraining_loss_decreases(pretrained_six_epochs):
    metrics = pd.read_csv(pretrained_six_epochs / "training_log.csv")
    assert metrics["loss"].head(3).mean() > metrics["loss"].tail(3).mean() + 0.3
    valid = metrics["valid_loss"].dropna()
    assert len(valid) >= 3 and valid.iloc[-1] < valid.iloc[0]
    assert {"config.json", "model.safetensors", "vocab.json", "task.json"} <= {
        p.name for p in (pretrained_six_epochs / "model").iterdir()
    }
    assert (pretrained_six_epochs / "learning_curve.png").stat().st_size > 1000
    assert json.loads((pretrained_six_epochs / "summary.json").read_text())["missing_structure"] == 1


def test_no_op_is_compiled(pretrained_six_epochs, extensions_dir):
    """DeepSpeed has run: neither fused_adam nor the CPU shm op may have been JIT-built."""
    assert list(extensions_dir.iterdir()) == []


def _train_as_valid_and_test(tiny_data, name, tmp_path):
    """A split whose valid and test folds are its train fold: predictions show what was learnt."""
    split = json.loads(tiny_data.datasets[name].split.read_text())
    split["valid"] = split["test"] = split["train"]
    path = tmp_path / "overfit.split.json"
    path.write_text(json.dumps(split))
    return path


@pytest.mark.slow
def test_finetune_overfits_a_tiny_set(tiny_data, tiny, tmp_path):
    split = _train_as_valid_and_test(tiny_data, "bbbp", tmp_path)
    args = tiny_data.finetune_args("bbbp", tmp_path, split_json=str(split))
    run_finetune(**args, settings=tiny | {"epochs": 25, "selection": "last"})
    predictions = pd.read_csv(tmp_path / "predictions.csv")
    valid = predictions[predictions["fold"] == "valid"].dropna(subset=["y_pred"])
    accuracy = ((valid["y_pred"] >= 0.5) == (valid["y_true"] == 1)).mean()
    assert accuracy >= 0.95, accuracy


def test_finetune_writes_predictions_of_every_valid_and_test_molecule(tiny_data, tiny, tmp_path):
    run_finetune(**tiny_data.finetune_args("bbbp", tmp_path, seed=3), settings=tiny | {"epochs": 2})
    predictions = pd.read_csv(tmp_path / "predictions.csv")
    split = json.loads(tiny_data.datasets["bbbp"].split.read_text())
    assert list(predictions.columns) == PREDICTION_COLUMNS
    assert (predictions["fold"].value_counts().to_dict()) == {
        "valid": len(split["valid"]),
        "test": len(split["test"]),
    }
    # the molecule without a structure record (first of the test fold) is there, with y_pred NaN, and counted
    missing = pd.read_csv(tiny_data.datasets["bbbp"].table)["mol_id"].iloc[split["test"][0]]
    assert predictions.loc[predictions["y_pred"].isna(), "mol_id"].tolist() == [missing]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["missing_structure"] == {"train": 0, "valid": 0, "test": 1}
    assert summary["settings"]["seed"] == 3  # the run's seed replaces the settings' seed
    scores = evaluate_file(str(tmp_path / "predictions.csv"), ["roc_auc"])
    assert set(scores["fold"]) == {"valid", "test"}
    assert {"config.json", "model.safetensors", "vocab.json", "task.json"} <= {
        p.name for p in (tmp_path / "model").iterdir()
    }


def _split_with(tiny_data, tmp_path, **folds):
    split = json.loads(tiny_data.datasets["bbbp"].split.read_text()) | folds
    path = tmp_path / "given.split.json"
    path.write_text(json.dumps(split))
    return path


def test_an_empty_valid_fold_trains_to_the_last_step_with_a_warning(tiny_data, tiny, tmp_path, caplog):
    """It crashed ("cannot reshape array of size 0"); the pipeline's `split_fractions: [0.9, 0, 0.1]` and
    `mumo train --split-fractions 0.9 0 0.1` are accepted, so it must train: no early stopping, last step."""
    split = json.loads(tiny_data.datasets["bbbp"].split.read_text())
    path = _split_with(tiny_data, tmp_path, train=split["train"] + split["valid"], valid=[])
    args = tiny_data.finetune_args("bbbp", tmp_path, split_json=str(path))
    run_finetune(**args, settings=tiny | {"epochs": 2, "selection": "best_valid", "patience": 1})
    assert (
        "no valid molecules: no validation loss and no early stopping; the last step is kept" in caplog.text
    )
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["valid"] == 0 and summary["settings"]["selection"] == "last"
    assert not summary["stopped_early"] and summary["best_step"] is None
    predictions = pd.read_csv(tmp_path / "predictions.csv")
    assert set(predictions["fold"]) == {"test"} and len(predictions) == len(split["test"])


@pytest.mark.parametrize("fold", ["train", "test"])
def test_an_empty_train_or_test_fold_is_refused_before_any_work(tiny_data, tiny, tmp_path, fold):
    path = _split_with(tiny_data, tmp_path, **{fold: []})
    with pytest.raises(ValueError, match=rf"given.split.json: the {fold} fold is empty"):
        run_finetune(**tiny_data.finetune_args("bbbp", tmp_path, split_json=str(path)), settings=tiny)
    assert not (tmp_path / "training_log.csv").exists()


def test_multitask_with_missing_labels_keeps_the_quirk_flag(tiny_data, tiny, tmp_path):
    table = pd.read_csv(tiny_data.datasets["tox21"].table)
    assert table[tiny_data.datasets["tox21"].tasks].isna().any().any()  # the data has missing labels
    settings = tiny | {"epochs": 2, "model": {"nan_labels_as_negative": True, "pooler": "mixpooler"}}
    run_finetune(**tiny_data.finetune_args("tox21", tmp_path), settings=settings)
    predictions = pd.read_csv(tmp_path / "predictions.csv")
    assert set(predictions["task"]) == set(tiny_data.datasets["tox21"].tasks)
    assert predictions["y_pred"].between(0, 1).all()
    config = load_config(tmp_path / "model")
    assert (config.head, config.num_tasks, config.nan_labels_as_negative, config.pooler) == (
        "multilabel",
        3,
        True,
        "mixpooler",
    )


@pytest.mark.slow  # four epochs with early stopping
def test_regression_targets_are_scaled_on_train_and_predictions_denormalised(tiny_data, tiny, tmp_path):
    data = tiny_data.datasets["esol"]
    run_finetune(
        **tiny_data.finetune_args("esol", tmp_path),
        settings=tiny | {"epochs": 4, "selection": "best_valid", "patience": 2},
    )
    table = pd.read_csv(data.table)
    train = table.iloc[json.loads(data.split.read_text())["train"]][data.tasks[0]]
    scaler = json.loads((tmp_path / "model" / "task.json").read_text())["target_scaler"]
    assert scaler["mean"][0] == pytest.approx(train.mean(), rel=1e-5)
    assert scaler["std"][0] == pytest.approx(train.std(ddof=0), rel=1e-5)
    predictions = pd.read_csv(tmp_path / "predictions.csv")
    # original units: centred near the training mean, not near 0 as z-scores would be
    assert abs(predictions["y_pred"].mean() - train.mean()) < 2 * train.std()
    assert abs(predictions["y_pred"].mean()) > 0.5
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["best_step"] is not None and (tmp_path / "model" / "model.safetensors").exists()
    # the selected weights are written once (model/), and a finished run keeps no resume state
    assert not (tmp_path / "best").exists() and not (tmp_path / "checkpoints").exists()


def test_keep_checkpoints_keeps_the_resume_state_and_logs_each_epoch(tiny_data, tiny, tmp_path, caplog):
    caplog.set_level("INFO", logger="mumo.train.engine")
    settings = tiny | {"epochs": 2, "selection": "best_valid", "keep_checkpoints": True}
    run_finetune(**tiny_data.finetune_args("esol", tmp_path), settings=settings)
    assert (tmp_path / "checkpoints" / "latest.json").exists() and (tmp_path / "best").is_dir()
    epochs = [r.getMessage() for r in caplog.records if r.getMessage().startswith("epoch ")]
    assert [line.split()[1] for line in epochs] == ["1", "2"]
    line = r"epoch \d \(step \d+\): train loss \d+\.\d{4}, valid loss \d+\.\d{4}, lr \S+, \d+\.\d s"
    assert all(re.fullmatch(line, epoch) for epoch in epochs), epochs


def test_finetune_from_pretrained_loads_the_encoder(tiny_data, tiny, pretrained_six_epochs, tmp_path):
    run_finetune(
        **tiny_data.finetune_args("bbbp", tmp_path),
        settings=tiny | {"epochs": 1},
        pretrained_dir=str(pretrained_six_epochs / "model"),
    )
    assert load_config(tmp_path / "model").head == "classification"
    assert np.isfinite(pd.read_csv(tmp_path / "predictions.csv")["y_pred"].dropna()).all()


@pytest.mark.parametrize("paper", [True, False])
def test_batch_order_quirks_are_read_from_the_model_config(tiny_data, tiny, tmp_path, monkeypatch, paper):
    """Training batches, the validation loss and the predictions follow the model's quirks (a run with every
    training quirk of the paper on, which must also train and predict)."""
    seen = {"by_length": set(), "in_dataset_order": set()}
    global_batches = LengthBatchSampler.global_batches

    def spy_global_batches(self, epoch):
        seen["by_length"].add(self.by_length)
        return global_batches(self, epoch)

    def spy_eval_batches(lengths, batch_size, in_dataset_order):
        seen["in_dataset_order"].add(in_dataset_order)
        return eval_batches(lengths, batch_size, in_dataset_order)

    monkeypatch.setattr(LengthBatchSampler, "global_batches", spy_global_batches)
    for module in (engine, predict):
        monkeypatch.setattr(module, "eval_batches", spy_eval_batches)
    quirks = (
        "additive_mask_bug",
        "mamba_ignores_pad_in_training",
        "random_batch_order",
        "eval_in_dataset_order",
    )
    settings = tiny | {"epochs": 1, "model": dict.fromkeys(quirks, paper)}
    run_finetune(**tiny_data.finetune_args("bbbp", tmp_path), settings=settings)
    assert seen == {"by_length": {not paper}, "in_dataset_order": {paper}}
    predictions = pd.read_csv(tmp_path / "predictions.csv")["y_pred"].dropna()
    assert predictions.between(0, 1).all() and len(predictions) > 0


@pytest.mark.parametrize("in_dataset_order", [True, False])
def test_predictions_come_back_in_dataset_order_whatever_the_batches(
    monkeypatch, lengths_only, in_dataset_order
):
    """Each molecule's "prediction" is its own index: the output must be 0..n-1 in order."""
    batches = []

    def fake_predict_batch(model, dataset, indices, device, precision):
        batches.append(list(indices))
        return np.asarray(indices, dtype=float)[:, None]

    monkeypatch.setattr(predict, "predict_batch", fake_predict_batch)
    lengths = np.array([9, 3, 7, 3, 12, 5, 4])
    model = SimpleNamespace(config=get_preset("tiny", eval_in_dataset_order=in_dataset_order))
    dataset = lengths_only(lengths)
    out = predict_dataset(model, dataset, 3, torch.device("cpu"))
    np.testing.assert_array_equal(out[:, 0], np.arange(len(lengths)))
    expected = [[0, 1, 2], [3, 4, 5], [6]] if in_dataset_order else [[1, 3, 6], [5, 2, 0], [4]]
    assert batches == expected


@pytest.mark.slow  # a structure shard and a finetune, twice
@pytest.mark.parametrize("raw", [False, True])
def test_raw_smiles_switch_chooses_the_model_input(
    tiny_data, tiny, fast_conformers, tmp_path, monkeypatch, raw
):
    """Off: the canonical largest fragment; on (the paper's quirk): the table's string as given, tokens and
    graph both, from records keyed by those strings. Predictions keep canonical_smiles as the molecule id."""
    table = pd.read_csv(tiny_data.datasets["bbbp"].table)
    assert (table["smiles"] != table["canonical_smiles"]).any()  # salts and other spellings in the cut
    store = tmp_path / "store"
    verbatim = set(table["smiles"])
    build_shard([*table["canonical_smiles"], *verbatim], store / "s.npz", fast_conformers, verbatim=verbatim)
    given = []

    class Recording(recipes.MoleculeDataset):
        def __getitem__(self, index):
            ids, record, labels = super().__getitem__(index)
            given.append((self.smiles[index], record["smiles"], self.tokenizer.decode(ids)))
            return ids, record, labels

    monkeypatch.setattr(recipes, "MoleculeDataset", Recording)
    args = tiny_data.finetune_args("bbbp", tmp_path / "run", store_dir=str(store))
    run_finetune(**args, settings=tiny | {"epochs": 1, "model": {"tokens_from_raw_smiles": raw}})

    column = "smiles" if raw else "canonical_smiles"
    assert {s for s, _, _ in given} == set(table[column])
    assert all(record == s for s, record, _ in given)  # the graph was built from the string fed
    assert all(text == s.strip() for s, _, text in given if "[UNK]" not in text)
    predictions = pd.read_csv(tmp_path / "run" / "predictions.csv")
    assert set(predictions["canonical_smiles"]) <= set(table["canonical_smiles"])
    assert predictions["y_pred"].notna().all()
    assert load_config(tmp_path / "run" / "model").tokens_from_raw_smiles is raw


@pytest.mark.slow
def test_early_stopping_says_when_it_stopped_and_which_epoch_it_kept(
    tiny_data, tiny, tmp_path, monkeypatch, caplog
):
    """It used to stop after a few of the epochs asked for without a word."""
    losses = iter([1.0, 0.5, 0.7, 0.9, 0.8])  # best at the 2nd validation, then 2 without improvement

    monkeypatch.setattr(recipes, "dataset_loss", lambda model, **job: next(losses))
    caplog.set_level("INFO", logger="mumo.train.engine.selection")
    run_finetune(
        **tiny_data.finetune_args("bbbp", tmp_path),
        settings=tiny | {"epochs": 5, "selection": "best_valid", "patience": 2},
        label="seed 0 (1 of 1)",
    )
    summary = json.loads((tmp_path / "summary.json").read_text())
    steps_per_epoch = summary["best_step"] // 2
    assert summary["stopped_early"] and summary["steps"] == 4 * steps_per_epoch
    assert (
        f"seed 0 (1 of 1): early stopping at step {4 * steps_per_epoch} of {5 * steps_per_epoch} (epoch 4.0): "
        f"no better validation loss in 2 evaluations (patience); kept step {2 * steps_per_epoch} (epoch 2.0), "
        "valid loss 0.5000"
    ) in caplog.text


@pytest.mark.slow
def test_no_dataloader_worker_outlives_its_run(tiny_data, tiny, tmp_path):
    """Persistent workers left to the garbage collector were collected in a later forked process (the next
    seed's workers), which printed `Exception ignored ... AssertionError: can only test a child process`."""
    import multiprocessing

    run_finetune(**tiny_data.finetune_args("bbbp", tmp_path), settings=tiny | {"epochs": 2, "num_workers": 1})
    assert multiprocessing.active_children() == []
