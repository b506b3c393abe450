"""Importing the authors' checkpoints, checked against outputs of the authors' own code.

Fixtures (`tests/fixtures/reference_checkpoint/`, `tests/fixtures/reference_outputs.npz`) were made once with
the reference repository (selmiss/MuMo, transformers 4.46.3, torch 2.13.0, CPU, the Mamba slow path): tiny
models (hidden 4, 2 + 2 layers, 2 heads, Mamba inner width 12 (not expand × hidden: the explicit
`intermediate_size` wins), state 4, Δ-rank 2, their full 2,364-token tokenizer), module-default weights plus
seeded noise (so norms and biases are not 1 and 0), rounded to fp16 and saved with the reference's
`save_pretrained` in fp16 (exact in fp32), then reloaded with its `from_pretrained` to record:
* `pretrain/` (MuMoPretrain, with the tokenizer files): MLM logits on every 29th vocabulary column and the
  log-sum-exp over all 2,364 columns, for each position of the padded batch;
* `finetune_cls/` (2-logit classification), `finetune_bipooler/` (3-task multi-label, saved as
  `pytorch_model.bin`), `finetune_mixpooler/` (regression), `finetune_graph_sum/` (2-output regression, CLS +
  atom sum): MuMoFinetune outputs. They share the pretrain backbone, and their tokenizer is the pretrain
  folder's (copied by `reference_folder`).
Inputs: six canonical SMILES in one right-padded batch (the paper's quirks make outputs depend on padding),
token ids from their tokenizer, graphs from their `mol2GeoGraph` (ogb features, BRICS via their
`bond_break`). Their conformer routine is unseeded, so its coordinates are recorded (`ref{i}_pos`) and mumo's
featuriser is fed the same ones.

`tests/fixtures/make_reference_fixtures.py` rebuilds both from selmiss/MuMo at commit
197f4b773118e7699021df98f048c48c9fa47f4a (its REFERENCE_COMMIT; the noise recipe is in its docstring), in a
separate venv with the reference's dependencies (torch 2.13.0, transformers 4.46.3, torch-geometric, ogb,
rdkit, scikit-learn, pandas, tqdm, safetensors), reusing the recorded coordinates:
`python tests/fixtures/make_reference_fixtures.py --check` compares a rebuild with the committed files
(weights bit-equal, outputs within 1e-6); `--output tests/fixtures` overwrites them.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from helpers import FIXTURES, REPO
from safetensors.torch import load_file, save_file

from mumo.chem.conformer import Conformer
from mumo.chem.graph import build_record
from mumo.chem.structure import parse_smiles
from mumo.chem.tokenizer import SmilesTokenizer
from mumo.cli import main
from mumo.model import collate, get_preset, load_pretrained
from mumo.model import import_checkpoint as ic
from mumo.model.import_checkpoint import CheckpointImportError, import_checkpoint

CHECKPOINTS = FIXTURES / "reference_checkpoint"
OUTPUTS = np.load(FIXTURES / "reference_outputs.npz")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
FINETUNES = ("cls", "bipooler", "mixpooler", "graph_sum")
GRAPH_KEYS = {  # reference name → mumo record key
    "x": "x",
    "edge_index": "edge_index",
    "edge_attr": "edge_attr",
    "fra_edge_index": "frag_edge_index",
    "fra_edge_attr": "frag_edge_attr",
}
ANGLES = {"ba": "", "bafra": "frag_"}  # reference prefix → mumo prefix


def reference_folder(tmp_path: Path, name: str) -> Path:
    """A copy of one fixture checkpoint with the tokenizer files beside its weights, as the reference saves it."""
    folder = tmp_path / name
    shutil.copytree(CHECKPOINTS / name, folder)
    for file in TOKENIZER_FILES:
        if not (folder / file).exists():
            shutil.copy(CHECKPOINTS / "pretrain" / file, folder / file)
    return folder


def reference_record(i: int) -> dict:
    """Molecule i's graph exactly as the reference computed it (its angle edges and angle values)."""
    ref = {key.removeprefix(f"ref{i}_"): OUTPUTS[key] for key in OUTPUTS.files if key.startswith(f"ref{i}_")}
    record = {mumo: ref[name] for name, mumo in GRAPH_KEYS.items()}
    for name, prefix in ANGLES.items():
        record[f"{prefix}ba_edge_index"] = ref[f"{name}_edge_index"]
        record[f"{prefix}ba_angle"] = ref[f"{name}_edge_attr"].reshape(-1)
    return record


def mumo_record(i: int) -> dict:
    smiles = str(OUTPUTS["smiles"][i])
    mol = parse_smiles(smiles).mol
    return build_record(mol, smiles, Conformer(OUTPUTS[f"ref{i}_pos"], "mmff", ""))


def reference_batch(records: list[dict]):
    mask = OUTPUTS["attention_mask"].astype(bool)
    ids = [row[m].tolist() for row, m in zip(OUTPUTS["input_ids"], mask, strict=True)]
    batch = collate(ids, records)
    assert torch.equal(batch.tokens, torch.from_numpy(OUTPUTS["input_ids"]))
    assert torch.equal(batch.token_mask, torch.from_numpy(mask))
    return batch


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("imported")
    return {
        name: import_checkpoint(str(reference_folder(tmp / "src", name)), tmp / name)
        for name in ("pretrain", *(f"finetune_{p}" for p in FINETUNES))
    }


@torch.no_grad()
def run(model_dir: Path, records: list[dict]) -> torch.Tensor:
    model = load_pretrained(model_dir).eval()
    return model(reference_batch(records))


def test_mumo_featurises_the_molecules_as_the_reference_does():
    """Same atoms, bonds, edge order and fragment view; the same angle edges, angles within 1e-4 rad.

    The reference normalises each bond vector by (norm + 1e-5) before the arccos, mumo by the exact norm, and
    it orders angle edges by (i, j, k) where mumo orders them by (bond in, bond out): both are compared as sets.
    """
    for i, smiles in enumerate(OUTPUTS["smiles"]):
        assert parse_smiles(str(smiles)).canonical == smiles
        ref, ours = reference_record(i), mumo_record(i)
        for key in GRAPH_KEYS.values():
            np.testing.assert_array_equal(ours[key], ref[key], err_msg=f"{smiles} {key}")
        for prefix in ANGLES.values():
            order_ref = np.lexsort(ref[f"{prefix}ba_edge_index"][::-1])
            order_ours = np.lexsort(ours[f"{prefix}ba_edge_index"][::-1])
            np.testing.assert_array_equal(
                ours[f"{prefix}ba_edge_index"][:, order_ours], ref[f"{prefix}ba_edge_index"][:, order_ref]
            )
            np.testing.assert_allclose(
                ours[f"{prefix}ba_angle"][order_ours], ref[f"{prefix}ba_angle"][order_ref], atol=1e-4, rtol=0
            )


def test_imported_vocabulary_keeps_the_reference_ids(imported):
    tokenizer = SmilesTokenizer.load(imported["pretrain"] / "vocab.json")
    assert len(tokenizer) == 2364 and tokenizer.tokens[:5] == ["[MASK]", "[CLS]", "[PAD]", "[SEP]", "C"]
    assert tokenizer.tokens[2361:] == ["[UNK]", "[BOS]", "[EOS]"]
    for smiles, row, mask in zip(
        OUTPUTS["smiles"], OUTPUTS["input_ids"], OUTPUTS["attention_mask"], strict=True
    ):
        assert tokenizer.encode(str(smiles)) == row[mask.astype(bool)].tolist()


def test_pretrain_logits_match_the_reference(imported):
    records = [reference_record(i) for i in range(len(OUTPUTS["smiles"]))]
    logits = run(imported["pretrain"], records)
    columns = torch.from_numpy(OUTPUTS["pretrain_logit_columns"])
    np.testing.assert_allclose(logits[..., columns], OUTPUTS["pretrain_logits"], atol=1e-5, rtol=0)
    np.testing.assert_allclose(torch.logsumexp(logits, -1), OUTPUTS["pretrain_logsumexp"], atol=1e-5, rtol=0)


@pytest.mark.parametrize("pooler", FINETUNES)
def test_finetune_outputs_match_the_reference(imported, pooler):
    records = [reference_record(i) for i in range(len(OUTPUTS["smiles"]))]
    expected = OUTPUTS[f"finetune_{pooler}"]
    outputs = run(imported[f"finetune_{pooler}"], records)
    assert outputs.shape == expected.shape
    np.testing.assert_allclose(outputs, expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", ["pretrain", "finetune_bipooler"])
def test_mumo_featurised_inputs_give_the_reference_outputs(imported, name):
    """End to end from SMILES and the reference's coordinates: the angle epsilon above moves nothing past 1e-5."""
    records = [mumo_record(i) for i in range(len(OUTPUTS["smiles"]))]
    outputs = run(imported[name], records)
    if name == "pretrain":
        outputs = outputs[..., torch.from_numpy(OUTPUTS["pretrain_logit_columns"])]
    np.testing.assert_allclose(
        outputs, OUTPUTS[name.replace("pretrain", "pretrain_logits")], atol=1e-5, rtol=0
    )


def test_configs_heads_and_records(imported):
    heads = {
        "pretrain": ("pretrain", 1, "cls", False),
        "finetune_cls": ("classification", 1, "cls", False),
        "finetune_bipooler": ("multilabel", 3, "bipooler", False),
        "finetune_mixpooler": ("regression", 1, "mixpooler", False),
        "finetune_graph_sum": ("regression", 2, "cls", True),
    }
    for name, (head, num_tasks, pooler, graph_sum) in heads.items():
        config = json.loads((imported[name] / "config.json").read_text())
        assert (config["head"], config["num_tasks"], config["pooler"], config["graph_sum"]) == (
            head,
            num_tasks,
            pooler,
            graph_sum,
        )
        assert (config["d_inner"], config["n_seq_layers"], config["n_fusion_layers"]) == (12, 2, 2)
        assert config["additive_mask_bug"] and config["bipooler_reads_pad"]
        task = json.loads((imported[name] / "task.json").read_text())
        assert len(task["tasks"]) == (0 if head == "pretrain" else num_tasks)

    record = json.loads((imported["finetune_bipooler"] / "import.json").read_text())
    assert record["kind"] == "finetune" and record["source_dtypes"] == ["float16"]
    assert set(record["files"]) == {"config.json", "pytorch_model.bin", *TOKENIZER_FILES}
    # hidden 4. Block 1's unused first graph layer: lin_a 4·9+4, lin_b 4·3+4, lin_c 4·1+4, fusion gate 4·8+4,
    # two gates 2·(4·12+4), two MPNNs 2·((4·12+4) + (4·4+4) + (4·8+4) + (4·4+4)) = 40+16+8+36+104+256 = 460.
    # Plus the lin_c (8) of each of the 2 × 2 later graph layers: 32.
    names = {item["name"]: item["parameters"] for item in record["never_used"]}
    assert sum(n for k, n in names.items() if ".first_graph_layer." in k) == 460
    assert all(".graph_layers.1.first_graph_layer." in k for k in names if ".first_graph_layer." in k)
    assert sum(n for k, n in names.items() if k.endswith((".lin_c.weight", ".lin_c.bias"))) == 32 + 8
    assert record["never_used_parameters"] == sum(names.values()) == 492


def test_regression_import_notes_the_identity_scaler(imported):
    record = json.loads((imported["finetune_mixpooler"] / "import.json").read_text())
    assert any("target scaler" in note for note in record["notes"])
    task = json.loads((imported["finetune_mixpooler"] / "task.json").read_text())
    assert task["target_scaler"] == {"mean": [0.0], "std": [1.0]}


# --------------------------------------------------------------------------------------------------
# Rejections: each names the key, file or shape


def edit_weights(folder: Path, change) -> None:
    path = folder / "model.safetensors"
    state = load_file(str(path))
    change(state)
    save_file(state, str(path))


def test_unknown_key_is_an_error_naming_it(tmp_path):
    folder = reference_folder(tmp_path, "finetune_cls")
    edit_weights(folder, lambda s: s.update({"backbone.extra_adapter.weight": torch.zeros(3)}))
    with pytest.raises(CheckpointImportError, match=r"unknown key 'backbone\.extra_adapter\.weight'"):
        import_checkpoint(str(folder), tmp_path / "out")
    assert not (tmp_path / "out" / "import.json").exists()


def test_key_of_a_layer_the_config_lacks_is_unknown(tmp_path):
    folder = reference_folder(tmp_path, "finetune_cls")
    extra = "backbone.layers.7.layer_norm.weight"
    edit_weights(folder, lambda s: s.update({extra: torch.ones(4)}))
    with pytest.raises(CheckpointImportError, match=rf"unknown key '{re.escape(extra)}'"):
        import_checkpoint(str(folder), tmp_path / "out")


def test_shape_mismatch_names_both_shapes(tmp_path):
    folder = reference_folder(tmp_path, "finetune_cls")
    key = "backbone.layers.0.attention.self.query.weight"
    edit_weights(folder, lambda s: s.update({key: torch.zeros(4, 5)}))
    with pytest.raises(CheckpointImportError, match=r"query\.weight'.*\[4, 5\].*\[4, 4\]"):
        import_checkpoint(str(folder), tmp_path / "out")


def test_missing_key_is_an_error_naming_it(tmp_path):
    folder = reference_folder(tmp_path, "finetune_cls")
    edit_weights(folder, lambda s: s.pop("backbone.graph_layers.1.graph_map_layer.bias"))
    with pytest.raises(
        CheckpointImportError, match=r"missing key 'backbone\.graph_layers\.1\.graph_map_layer\.bias'"
    ):
        import_checkpoint(str(folder), tmp_path / "out")


def test_unsupported_reference_setting_is_refused(tmp_path):
    folder = reference_folder(tmp_path, "pretrain")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(config | {"no_self_attention": True}))
    with pytest.raises(CheckpointImportError, match=r"config\.json: no_self_attention=True"):
        import_checkpoint(str(folder), tmp_path / "out")


def test_bin_weights_load_with_weights_only(tmp_path, monkeypatch, imported):
    calls = []
    real_load = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    out = import_checkpoint(str(reference_folder(tmp_path, "finetune_bipooler")), tmp_path / "out")
    assert calls == [{"map_location": "cpu", "weights_only": True}]
    assert (
        load_file(str(out / "model.safetensors")).keys()
        == load_file(str(imported["finetune_bipooler"] / "model.safetensors")).keys()
    )


def test_sharded_safetensors_with_an_index(tmp_path, imported):
    folder = reference_folder(tmp_path, "finetune_cls")
    state = load_file(str(folder / "model.safetensors"))
    (folder / "model.safetensors").unlink()
    names = sorted(state)
    shards = {"model-00001-of-00002.safetensors": names[::2], "model-00002-of-00002.safetensors": names[1::2]}
    for file, keys in shards.items():
        save_file({k: state[k] for k in keys}, str(folder / file))
    weight_map = {k: file for file, keys in shards.items() for k in keys}
    (folder / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {}, "weight_map": weight_map})
    )
    out = import_checkpoint(str(folder), tmp_path / "out")
    converted, direct = (
        load_file(str(out / "model.safetensors")),
        load_file(str(imported["finetune_cls"] / "model.safetensors")),
    )
    assert all(torch.equal(converted[k], direct[k]) for k in direct)
    files = json.loads((out / "import.json").read_text())["files"]
    assert {"model.safetensors.index.json", *shards} <= set(files)


def test_vocab_txt_is_read_with_line_numbers_as_ids(tmp_path, imported):
    folder = reference_folder(tmp_path, "pretrain")
    tokens = SmilesTokenizer.load(imported["pretrain"] / "vocab.json").tokens
    for file in TOKENIZER_FILES:
        (folder / file).unlink()
    (folder / "vocab.txt").write_text("\n".join(tokens) + "\n")
    out = import_checkpoint(str(folder), tmp_path / "out")
    assert SmilesTokenizer.load(out / "vocab.json").tokens == tokens


COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("zihaojing/MuMo-Pretrained", r"pinned to a commit.*zihaojing/MuMo-Pretrained@<commit>"),
        ("zihaojing/MuMo-Pretrained@main", r"'main' is a branch or tag.*MuMo-Pretrained@<40-hex commit>"),
        ("zihaojing/MuMo-Pretrained@v1.0", r"'v1.0' is a branch or tag"),
        ("zihaojing/MuMo-Pretrained@0123abc", r"'0123abc' is a branch or tag"),  # a short hash is refused too
    ],
)
def test_hub_id_without_a_commit_is_refused(source, message, monkeypatch):
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda *a, **k: pytest.fail("downloaded"))
    with pytest.raises(CheckpointImportError, match=message):
        import_checkpoint(source, Path("unused"))


def test_the_paper_config_pins_the_authors_weights_to_a_commit(monkeypatch, tmp_path):
    import huggingface_hub

    source = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())["mumo"]["pretrained"]
    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda repo_id, **kwargs: str(tmp_path))
    assert ic.resolve_source(source) == (tmp_path, source.split("@")[1])


def test_hub_source_downloads_only_the_needed_files_at_the_commit(tmp_path, monkeypatch):
    """The hub is unreachable here: `snapshot_download` is replaced by a fake that serves the fixture from a
    folder named by the commit, as huggingface_hub's snapshots are."""
    import huggingface_hub

    calls = []
    snapshot = reference_folder(tmp_path / "snapshots", "pretrain").rename(tmp_path / "snapshots" / COMMIT)

    def fake_snapshot_download(repo_id, **kwargs):
        calls.append((repo_id, kwargs))
        return str(snapshot)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    source = f"zihaojing/MuMo-Pretrained@{COMMIT}"
    out = import_checkpoint(source, tmp_path / "out", cache_dir=tmp_path / "cache")
    assert calls == [
        (
            "zihaojing/MuMo-Pretrained",
            {"revision": COMMIT, "allow_patterns": ic.HUB_FILES, "cache_dir": str(tmp_path / "cache")},
        )
    ]
    record = json.loads((out / "import.json").read_text())
    assert (record["source"], record["revision"], record["commit"]) == (source, COMMIT, COMMIT)


# --------------------------------------------------------------------------------------------------
# CLI


def test_cli_help_explains_sources_outputs_and_never_used_tensors(capsys):
    with pytest.raises(SystemExit):
        main(["import-checkpoint", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "owner/name@<commit>" in text and "local folder" in text and "@main, is refused" in text
    assert "import.json" in text and "never uses" in text


def test_cli_imports_the_fixture(tmp_path, capsys):
    folder = reference_folder(tmp_path, "finetune_mixpooler")
    assert main(["import-checkpoint", str(folder), "--output", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "never-used tensors" in out and str(tmp_path / "out") in out
    assert load_pretrained(tmp_path / "out").config.pooler == "mixpooler"


def test_cli_error_is_one_line(tmp_path, capsys):
    assert main(["import-checkpoint", "owner/name", "--output", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("mumo import-checkpoint: error: ") and "pinned to a commit" in err
    assert err.count("\n") == 1 and not (tmp_path / "out").exists()


def test_finetune_recipe_accepts_an_imported_pretrain(imported):
    """`run_finetune(pretrained_dir=...)` goes through build_model: the imported vocabulary must pass it."""
    from mumo.train.recipes import build_model
    from mumo.train.settings import TrainSettings

    tokenizer = SmilesTokenizer.load(imported["pretrain"] / "vocab.json")
    model = build_model(
        TrainSettings.from_dict({"preset": "tiny"}),
        tokenizer,
        {"head": "classification", "num_tasks": 1},
        str(imported["pretrain"]),
    )
    assert model.config.hidden_size == 4 and model.config.head == "classification"


def test_the_authors_full_size_config_is_the_paper_preset():
    """The fixture's config with the published sizes: mumo's `paper` preset, Mamba inner width 3,072 included."""
    reference = json.loads((CHECKPOINTS / "pretrain" / "config.json").read_text())
    full = {
        "hidden_size": 768,
        "num_hidden_layers": 16,
        "num_attention_heads": 12,
        "intermediate_size": 3072,  # expand 2 would give 1,536: the explicit size wins, as in transformers
        "state_size": 16,
        "time_step_rank": 64,
    }
    assert ic.mumo_config(reference | full, "pretrain", None, Path("config.json")) == get_preset("paper")
    finetune = (
        reference | full | {"task_type": "classification", "output_size": -1, "pool_method": "bipooler"}
    )
    assert ic.mumo_config(finetune, "finetune", 2, Path("config.json")) == get_preset(
        "paper", head="classification", pooler="bipooler"
    )


def test_a_pickle_with_more_than_tensors_is_refused(tmp_path):
    """weights_only=True: a .bin that would run code or build arbitrary objects is not unpickled."""
    folder = reference_folder(tmp_path, "finetune_bipooler")
    torch.save({"task_head.0.weight": torch.zeros(3, 8), "trap": Path("x")}, folder / "pytorch_model.bin")
    with pytest.raises(CheckpointImportError, match=r"pytorch_model\.bin: not readable as weights"):
        import_checkpoint(str(folder), tmp_path / "out")


# --------------------------------------------------------------------------------------------------
# The script that rebuilds the fixtures (it needs the authors' code to run; here only its constants and CLI)


def fixture_script():
    spec = importlib.util.spec_from_file_location(
        "make_reference_fixtures", FIXTURES / "make_reference_fixtures.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fixture_script_matches_the_committed_fixtures_and_the_docs():
    """Its pinned commit is the one both docs name; its molecules, heads and logit columns are the fixtures'."""
    script = fixture_script()
    assert re.fullmatch(r"[0-9a-f]{40}", script.REFERENCE_COMMIT)
    assert script.REFERENCE_COMMIT in (REPO / "docs" / "reference-checkpoints.md").read_text()
    assert script.REFERENCE_COMMIT in " ".join(__doc__.split())
    assert script.SMILES == tuple(str(s) for s in OUTPUTS["smiles"])
    assert tuple(script.FINETUNES) == FINETUNES
    assert {f"finetune_{name}" for name in script.FINETUNES} | {"pretrain"} == {
        p.name for p in CHECKPOINTS.iterdir()
    }
    columns = np.arange(0, 2364, script.LOGIT_COLUMN_STEP)  # every 29th of the 2,364-token vocabulary
    np.testing.assert_array_equal(columns, OUTPUTS["pretrain_logit_columns"])


@pytest.mark.parametrize("argv", [["--check", "--fresh-conformers"], ["--check", "--output", str(FIXTURES)]])
def test_fixture_script_refuses_a_check_that_cannot_compare(argv, capsys):
    """Fresh conformers change every output; a check written over the committed files compares them with themselves."""
    with pytest.raises(SystemExit) as exit_info:
        fixture_script().parse_args(argv)
    assert exit_info.value.code == 2 and "--check" in capsys.readouterr().err
