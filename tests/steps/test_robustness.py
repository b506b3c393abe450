"""The robustness step on two tiny trained models: sequence only (its spread must be exactly 0) and full MuMo,
with a variant store under which the larger molecules fall back to 2D."""

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np
import pandas as pd
import pytest
from helpers import MOLECULENET

from mumo.chem.conformer import ConformerConfig
from mumo.chem.store import build_shard
from mumo.chem.tokenizer import SmilesTokenizer
from mumo.data.splits import make_split
from mumo.data.standardise import standardise
from mumo.eval.robustness import CONFORMER_SEED, REFERENCE, ConformerSet
from mumo.steps.robustness import RobustnessRun, conformer_robustness
from mumo.train.recipes import FinetuneData, run_finetune

REFERENCE_CONFORMERS = ConformerConfig(max_iters=50, add_hs_below_heavy_atoms=0, max_embed_attempts=10)
# the variant: another seed, and every molecule of more than 14 heavy atoms 2D only
VARIANT_CONFORMERS = dataclasses.replace(REFERENCE_CONFORMERS, seed=43, max_atoms=14)
SETS = [ConformerSet(42, 1, REFERENCE), ConformerSet(43, 1, CONFORMER_SEED)]
SETTINGS = {"preset": "tiny", "batch_size": 8, "epochs": 1, "progress": False, "num_workers": 0}


@pytest.fixture(scope="module")
def robustness_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("robustness")
    raw = pd.read_csv(MOLECULENET / "bbbp.csv").head(40)[["smiles", "p_np"]]
    table = standardise(raw, ["p_np"], "classification", "bbbp").table
    table.to_csv(root / "bbbp.csv", index=False)
    split = make_split(table, "random", 0, [0.6, 0.2, 0.2])
    (root / "split.json").write_text(json.dumps(split))
    smiles = table["canonical_smiles"].tolist()
    build_shard(smiles, root / "reference.npz", REFERENCE_CONFORMERS)
    variant = build_shard(smiles, root / "variant.npz", VARIANT_CONFORMERS)
    SmilesTokenizer.build(smiles).save(root / "vocab.json")
    runs = []
    for model, overrides in (("mumo", {}), ("mumo_seq_only", {"use_graph": False})):
        data = FinetuneData(
            str(root / "bbbp.csv"),
            str(root / "split.json"),
            str(root / "reference.npz"),
            str(root / "vocab.json"),
            ["p_np"],
            "classification",
            conformer=dataclasses.asdict(REFERENCE_CONFORMERS),
        )
        run_dir = root / model
        settings = {**SETTINGS, "model": overrides}
        run_finetune(
            data,
            seed=0,
            settings=settings,
            out_predictions=str(run_dir / "predictions.csv"),
            out_dir=str(run_dir),
        )
        runs.append(
            RobustnessRun(
                model,
                "bbbp",
                "random",
                0,
                str(run_dir),
                str(root / "split.json"),
                str(root / "bbbp.csv"),
                str(root / "reference.npz"),
                settings,
            )  # fmt: skip
        )
    outputs = _outputs(root)
    _robustness(runs, SETS, root, outputs)
    fell_back = set(variant.loc[variant["outcome"] == "2d_fallback", "canonical_smiles"])
    test_smiles = set(table["canonical_smiles"].iloc[split["test"]])
    return root, {name: pd.read_csv(path) for name, path in outputs.items()}, fell_back & test_smiles, runs


def _robustness(runs, sets, root, outputs) -> None:
    variant = {sets[1].name: str(root / "variant.npz")}
    conformer_robustness(
        runs, sets, variant, {"bbbp": "roc_auc"}, threads=1, batch_size=None, outputs=outputs
    )


def _outputs(folder) -> dict[str, str]:
    return {name: str(folder / f"{name}.csv") for name in ("per_set", "summary")} | {
        "molecules": str(folder / "molecules.csv.gz")
    }


def test_the_sequence_only_model_has_no_spread_and_the_full_model_some(robustness_run):
    _, out, _, _ = robustness_run
    molecules = out["molecules"].set_index("model")
    assert (molecules.loc["mumo_seq_only", f"spread_{CONFORMER_SEED}"] == 0.0).all()
    assert (molecules.loc["mumo", f"spread_{CONFORMER_SEED}"] > 0).any()
    summary = out["summary"].set_index("model")
    assert (
        summary.loc["mumo_seq_only", "mean_spread"] == 0.0
        and summary.loc["mumo_seq_only", "metric_range"] == 0
    )
    assert summary.loc["mumo", "max_spread"] > 0
    assert (summary["metric"] == "roc_auc").all() and (summary["n_sets"] == 2).all()


def test_the_reference_set_gives_the_runs_own_test_predictions(robustness_run):
    root, out, _, _ = robustness_run
    for model, molecules in out["molecules"].groupby("model"):
        own = pd.read_csv(root / model / "predictions.csv").query("fold == 'test'")
        merged = molecules.merge(own, on="mol_id")
        assert len(merged) == len(own) == len(molecules)
        np.testing.assert_allclose(merged["pred_seed42-n1"], merged["y_pred"], rtol=1e-6)


def test_molecules_that_fall_back_to_2d_are_kept_counted_and_marked(robustness_run):
    _, out, fell_back, _ = robustness_run
    assert fell_back, "the variant store was meant to leave some test molecules without 3D"
    molecules = out["molecules"]
    marked = molecules.loc[molecules["fallback_sets"].fillna("") == "seed43-n1", "canonical_smiles"]
    assert set(marked) == fell_back
    assert molecules["pred_seed43-n1"].notna().all()  # predicted from their 2D structure, not dropped
    per_set = out["per_set"].set_index(["model", "conformer_set"])
    assert (per_set.xs("seed43-n1", level="conformer_set")["n_2d_fallback"] == len(fell_back)).all()
    assert (per_set.xs("seed42-n1", level="conformer_set")["n_2d_fallback"] == 0).all()
    assert (out["summary"]["n_2d_fallback"] == len(fell_back)).all()
    assert (out["summary"]["n_2d_fallback_changed"] == len(fell_back)).all()


def test_a_model_trained_on_other_conformers_is_refused(robustness_run, tmp_path):
    root, _, _, _ = robustness_run
    run = RobustnessRun("mumo", "bbbp", "random", 0, str(root / "mumo"), str(root / "split.json"),
                        str(root / "bbbp.csv"), str(root / "reference.npz"), SETTINGS)  # fmt: skip
    other = [ConformerSet(7, 1, REFERENCE), ConformerSet(8, 1, CONFORMER_SEED)]
    with pytest.raises(ValueError, match=r"mumo/model: trained with conformer seed 42 .* seed 7"):
        _robustness([run], other, root, _outputs(tmp_path))


def test_a_rerun_keeps_each_runs_predictions_while_what_they_were_made_from_holds(
    robustness_run, tmp_path, monkeypatch
):
    root, out, _, runs = robustness_run

    def no_model(*args, **kwargs):
        raise AssertionError("a model was loaded")

    monkeypatch.setattr("mumo.steps.robustness.load_model", no_model)
    _robustness(runs, SETS, root, _outputs(tmp_path))  # a retried job: every run finished, nothing loaded
    for name, path in _outputs(tmp_path).items():
        pd.testing.assert_frame_equal(pd.read_csv(path), out[name])
    # a variant store rebuilt since: every run is predicted again
    variant = root / "variant.npz"
    os.utime(variant, ns=(variant.stat().st_atime_ns, variant.stat().st_mtime_ns + 10**9))
    with pytest.raises(AssertionError, match="a model was loaded"):
        _robustness(runs, SETS, root, _outputs(tmp_path))
