"""`mumo predict` on a user's CSV and `mumo evaluate` on a predictions file."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from mumo.cli import main
from mumo.model import get_preset
from mumo.train import predict
from mumo.train.recipes import run_finetune

USER_ROWS = [
    ("aspirin", "CC(=O)Oc1ccccc1C(=O)O", "ok"),
    ("unclosed ring", "C1CC", "invalid_smiles"),
    ("cisplatin", "N.N.Cl[Pt]Cl", "ok"),
    ("empty", "", "invalid_smiles"),
    ("ferrocene", "[Fe+2].c1cc[cH-]c1.c1cc[cH-]c1", "ok"),
    ("pentavalent N", "N(C)(C)(C)(C)C", "invalid_smiles"),
    ("ethanol", "CCO", "ok"),
    ("aspirin again", "OC(=O)c1ccccc1OC(C)=O", "ok"),
]


@pytest.fixture(scope="module")
def trained(tiny_data, tiny, tmp_path_factory):
    out = tmp_path_factory.mktemp("trained")
    run_finetune(**tiny_data.finetune_args("bbbp", out), settings=tiny | {"epochs": 1})
    return out


def test_predict_keeps_every_row_in_order_with_a_reason(trained, tmp_path):
    users = pd.DataFrame(USER_ROWS, columns=["name", "molecule", "expected"])
    users[["name", "molecule"]].to_csv(tmp_path / "input.csv", index=False)
    args = [
        "predict",
        f"--checkpoint={trained}",
        f"--input={tmp_path / 'input.csv'}",
        f"--output={tmp_path / 'out.csv'}",
    ]
    assert main([*args, "--smiles-column=molecule"]) == 0
    out = pd.read_csv(tmp_path / "out.csv", keep_default_na=False, na_values=[""])
    assert out["name"].tolist() == users["name"].tolist()
    assert out["status"].tolist() == users["expected"].tolist()
    ok = out["status"] == "ok"
    assert out.loc[ok, "pred_p_np"].between(0, 1).all() and out.loc[~ok, "pred_p_np"].isna().all()
    assert out.loc[~ok, "reason"].str.len().gt(0).all()
    assert "unclosed ring" in out.loc[1, "reason"] and "valence" in out.loc[5, "reason"]
    assert "etkdg_unoptimised" in out.loc[2, "reason"]  # cisplatin: no force field, flagged but predicted
    assert out.loc[0, "pred_p_np"] == pytest.approx(out.loc[7, "pred_p_np"])  # same molecule, same prediction


def test_predict_refuses_a_pretrained_encoder_and_names_missing_columns(trained, tiny_data, tmp_path):
    (tmp_path / "input.csv").write_text("smiles\nCCO\n")
    with pytest.raises(ValueError, match="no column 'molecule'"):
        main(
            [
                "predict",
                f"--checkpoint={trained}",
                f"--input={tmp_path / 'input.csv'}",
                f"--output={tmp_path / 'o.csv'}",
                "--smiles-column=molecule",
            ]
        )
    with pytest.raises(FileNotFoundError, match="no trained model"):
        main(
            [
                "predict",
                f"--checkpoint={tmp_path}",
                f"--input={tmp_path / 'input.csv'}",
                f"--output={tmp_path / 'o.csv'}",
            ]
        )


def test_evaluate_scores_a_predictions_file(trained, tmp_path, capsys):
    assert (
        main(
            [
                "evaluate",
                f"--predictions={trained / 'predictions.csv'}",
                "--metrics=roc_auc,accuracy",
                f"--output={tmp_path / 's.csv'}",
            ]
        )
        == 0
    )
    scores = pd.read_csv(tmp_path / "s.csv")
    assert set(scores["metric"]) == {"roc_auc", "accuracy"} and set(scores["fold"]) == {"valid", "test"}
    assert "roc_auc" in capsys.readouterr().out


@pytest.mark.parametrize("in_dataset_order", [True, False])
def test_user_predictions_are_batched_as_the_model_was_evaluated(monkeypatch, lengths_only, in_dataset_order):
    """A paper-quirk model predicts consecutive rows together, as the paper did; each row keeps its value."""
    batches = []

    def fake_predict_batch(model, dataset, indices, device):
        batches.append(list(indices))
        return np.asarray(indices, dtype=float)[:, None]

    monkeypatch.setattr(predict, "predict_batch", fake_predict_batch)
    lengths = np.array([9, 3, 7, 3, 12])
    model = SimpleNamespace(config=get_preset("tiny", eval_in_dataset_order=in_dataset_order))
    values, failures = predict._predict_all(model, lengths_only(lengths), 2, torch.device("cpu"), 1)
    np.testing.assert_array_equal(values[:, 0], np.arange(len(lengths)))
    assert failures == {}
    assert batches == ([[0, 1], [2, 3], [4]] if in_dataset_order else [[1, 3], [2, 0], [4]])
