"""`mumo predict` on a user's CSV and `mumo evaluate` on a predictions file."""

import pandas as pd
import pytest

from mumo.cli import main
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
                "--debug",  # the exception itself, not the CLI's one-line message
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
                "--debug",
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
