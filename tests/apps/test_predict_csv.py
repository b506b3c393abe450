"""`mumo predict` on a user's CSV and `mumo evaluate` on a predictions file."""

import dataclasses
import json
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from helpers import edit_saved_json, weights_only_checksums

from mumo.apps import predict_csv as predict
from mumo.chem.conformer import ConformerConfig
from mumo.cli import main
from mumo.train.recipes import run_finetune

PROPRANOLOL = "CC(C)NCC(O)COc1cccc2ccccc12"
# as the training store was built
FAST = {"max_iters": 50, "add_hs_below_heavy_atoms": 0, "max_embed_attempts": 10}
FAST_CONFORMERS = ConformerConfig(**FAST)

USER_ROWS = [
    ("aspirin", "CC(=O)Oc1ccccc1C(=O)O", "ok"),
    ("unclosed ring", "C1CC", "invalid_smiles"),
    (
        "cisplatin",
        "N.N.Cl[Pt]Cl",
        "unknown_tokens",
    ),  # kept as PtCl2 (heavy atoms); [Pt] is not in the vocabulary
    ("empty", "", "invalid_smiles"),
    ("ferrocene", "[Fe+2].c1cc[cH-]c1.c1cc[cH-]c1", "unknown_tokens"),  # [cH-] is not in the vocabulary
    ("pentavalent N", "N(C)(C)(C)(C)C", "invalid_smiles"),
    ("ethanol", "CCO", "ok"),
    ("aspirin again", "OC(=O)c1ccccc1OC(C)=O", "ok"),
]


@pytest.fixture(scope="module")
def trained(tiny_data, tiny, tmp_path_factory):
    out = tmp_path_factory.mktemp("trained")
    run_finetune(**tiny_data.finetune_args("bbbp", out, conformer=FAST), settings=tiny | {"epochs": 1})
    return out


def _predict(checkpoint, tmp_path, smiles: list[str], *options: str) -> pd.DataFrame:
    pd.DataFrame({"smiles": smiles}).to_csv(tmp_path / "input.csv", index=False)
    args = [
        f"--checkpoint={checkpoint}",
        f"--input={tmp_path / 'input.csv'}",
        f"--output={tmp_path / 'out.csv'}",
    ]
    assert main(["predict", *args, *options]) == 0
    return pd.read_csv(tmp_path / "out.csv", keep_default_na=False, na_values=[""])


def _copy_model(trained, tmp_path):
    return shutil.copytree(trained / "model", tmp_path / "model")


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
    predicted = out["status"].isin(["ok", "unknown_tokens"])
    assert (
        out.loc[predicted, "pred_p_np"].between(0, 1).all() and out.loc[~predicted, "pred_p_np"].isna().all()
    )
    assert out.loc[out["status"] != "ok", "reason"].str.len().gt(0).all()
    assert "unclosed ring" in out.loc[1, "reason"] and "valence" in out.loc[5, "reason"]
    assert "[cH-]" in out.loc[4, "reason"]
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


def test_predict_standardises_and_featurises_as_training_did(trained, tmp_path, monkeypatch):
    recorded = json.loads((trained / "model" / "featurization.json").read_text())
    assert recorded == {"fragments": "largest", "conformer": dataclasses.asdict(FAST_CONFORMERS)}
    configs = []

    def recording_build_shard(smiles, out_path, config, workers, **options):
        configs.append(config)
        return build_shard(smiles, out_path, config, workers, **options)

    build_shard = predict.build_shard
    monkeypatch.setattr(predict, "build_shard", recording_build_shard)
    out = _predict(trained, tmp_path, [PROPRANOLOL, f"{PROPRANOLOL}.Cl"])
    assert configs == [FAST_CONFORMERS]
    assert out["canonical_smiles"].tolist() == [PROPRANOLOL, PROPRANOLOL]  # the salt's HCl dropped
    assert out["pred_p_np"].iloc[0] == out["pred_p_np"].iloc[1] and out["status"].eq("ok").all()


def test_a_model_trained_on_smiles_as_written_predicts_from_them(trained, tmp_path, monkeypatch):
    """Quirk tokens_from_raw_smiles: the salt is read whole, as in training; the id stays the canonical key."""
    model = _copy_model(trained, tmp_path)
    edit_saved_json(model, "config.json", tokens_from_raw_smiles=True)
    fed = []
    dataset = predict.MoleculeDataset

    def recording_dataset(smiles, *args, **kwargs):
        fed.append(list(smiles))
        return dataset(smiles, *args, **kwargs)

    monkeypatch.setattr(predict, "MoleculeDataset", recording_dataset)
    salt = f" {PROPRANOLOL}.Cl"
    out = _predict(model, tmp_path, [PROPRANOLOL, salt])
    assert fed == [[PROPRANOLOL, salt.strip()]]
    assert out["canonical_smiles"].tolist() == [PROPRANOLOL, PROPRANOLOL]
    assert out["pred_p_np"].notna().all() and out["pred_p_np"].iloc[0] != out["pred_p_np"].iloc[1]


def test_model_without_featurization_record_predicts_with_defaults_and_a_warning(trained, tmp_path, caplog):
    model = _copy_model(trained, tmp_path)
    weights_only_checksums(model)  # as saved before mumo recorded featurisations
    (model / "featurization.json").unlink()
    out = _predict(model, tmp_path, [f"{PROPRANOLOL}.Cl"])
    assert out["canonical_smiles"].tolist() == [PROPRANOLOL] and out["status"].tolist() == ["ok"]
    assert "no featurization.json" in caplog.text


def test_blank_lines_are_kept_as_rows_with_a_reason(trained, tmp_path):
    (tmp_path / "input.csv").write_text("name,smiles\nethanol,CCO\n\nphenol,Oc1ccccc1\n")
    args = [
        f"--checkpoint={trained}",
        f"--input={tmp_path / 'input.csv'}",
        f"--output={tmp_path / 'out.csv'}",
    ]
    assert main(["predict", *args]) == 0
    out = pd.read_csv(tmp_path / "out.csv", keep_default_na=False, na_values=[""], skip_blank_lines=False)
    assert out["name"].fillna("").tolist() == ["ethanol", "", "phenol"]
    assert out["status"].tolist() == ["ok", "invalid_smiles", "ok"] and out.loc[1, "reason"] == "blank line"
    assert np.isnan(out.loc[1, "pred_p_np"]) and out["pred_p_np"].iloc[[0, 2]].notna().all()


def test_predictions_do_not_depend_on_the_batch_size(trained, tmp_path):
    molecules = ["C", "CC", "O", "CCO", PROPRANOLOL, "CC(=O)Oc1ccccc1C(=O)O", "c1ccc2ccccc2c1"]
    one = _predict(trained, tmp_path, molecules, "--batch-size=1")
    many = _predict(trained, tmp_path, molecules, "--batch-size=64")
    np.testing.assert_allclose(one["pred_p_np"], many["pred_p_np"], rtol=1e-5, atol=1e-6)


def test_paper_quirk_rows_that_depend_on_their_batch_say_so(trained, tmp_path):
    model = _copy_model(trained, tmp_path)
    edit_saved_json(model, "config.json", skip_edgeless_graph_steps=True)
    out = _predict(model, tmp_path, ["C", "CC", PROPRANOLOL])
    flagged = out["reason"].str.contains("depends on its batch")
    assert flagged.tolist() == [True, True, False] and out["status"].eq("ok").all()


def test_truncated_and_unknown_token_rows_have_their_own_status(trained, tmp_path):
    model = _copy_model(trained, tmp_path)
    edit_saved_json(model, "task.json", max_length=12)
    out = _predict(model, tmp_path, ["CCO", "CCCCCCCCCCCCCCCC", "c1cc[se]c1"])
    assert out["status"].tolist() == ["ok", "truncated", "unknown_tokens"]
    assert "16 tokens cut to max_length 12" in out.loc[1, "reason"] and "[se]" in out.loc[2, "reason"]
    assert out["pred_p_np"].notna().all()  # predicted, but flagged


def test_garbled_weights_stop_predict_naming_the_file(trained, tmp_path, capsys):
    model = _copy_model(trained, tmp_path)
    weights = model / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-8:] = b"\xff" * 8
    weights.write_bytes(bytes(data))
    pd.DataFrame({"smiles": ["CCO"]}).to_csv(tmp_path / "input.csv", index=False)
    args = [f"--checkpoint={model}", f"--input={tmp_path / 'input.csv'}", f"--output={tmp_path / 'out.csv'}"]
    assert main(["predict", *args]) == 1
    assert f"{weights}: SHA-256 differs" in capsys.readouterr().err
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.slow  # a fresh interpreter
def test_predict_imports_no_training_code():
    """`mumo predict` reads saved models through mumo.model.saved: neither the recipes nor DeepSpeed load."""
    code = (
        "import sys, mumo.apps.predict_csv; print(sorted(m for m in sys.modules if m.startswith(PREFIXES)))"
    )
    prefixes = ("mumo.train.recipes", "mumo.train.engine", "deepspeed")
    done = subprocess.run(
        [sys.executable, "-c", f"PREFIXES = {prefixes!r}; {code}"], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


def _pipeline_group(trained, folder, seeds, failed=()):
    """A pipeline run folder: seed folders holding the trained model, and the group record of `seeds` (the
    failed ones listed as such, their folders present, as a failed seed leaves them)."""
    for seed in (*seeds, *failed):
        shutil.copytree(trained / "model", folder / f"seed{seed}" / "model")
    record = {
        "seeds": list(seeds),
        "metrics": [f"seed{seed}/metrics.json" for seed in seeds],
        "failed": [{"seed": seed, "reason": "RuntimeError: boom"} for seed in failed],
    }
    path = folder / f"seeds-{'+'.join(map(str, (*seeds, *failed)))}.json"
    path.write_text(json.dumps(record))
    return path


def test_a_pipeline_run_folder_predicts_with_exactly_the_seeds_its_record_lists(trained, tmp_path, caplog):
    folder = tmp_path / "runs" / "mumo" / "bbbp" / "balanced_scaffold"
    record = _pipeline_group(trained, folder, seeds=[0, 2], failed=[1])
    expected = [folder / "seed0" / "model", folder / "seed2" / "model"]
    assert predict.ensemble_members([folder]) == expected == predict.ensemble_members([record])
    assert "seed1 not listed as finished in seeds-0+2+1.json, left out" in caplog.text

    shutil.rmtree(folder / "seed2")
    with pytest.raises(
        FileNotFoundError, match=r"seed2: listed as finished in .*seeds-0\+2\+1.json but missing"
    ):
        predict.ensemble_members([folder])


def test_a_run_folder_with_the_records_of_two_configs_must_be_named_by_record(trained, tmp_path):
    folder = tmp_path / "group"
    _pipeline_group(trained, folder, seeds=[0, 1])
    (folder / "seeds-0.json").write_text(json.dumps({"seeds": [0], "metrics": ["seed0/metrics.json"]}))
    with pytest.raises(
        ValueError, match=r"2 group records \(seeds-0\+1.json, seeds-0.json\), one per config"
    ):
        predict.ensemble_members([folder])
    assert predict.ensemble_members([folder / "seeds-0.json"]) == [folder / "seed0" / "model"]
