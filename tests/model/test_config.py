import json

import pytest
import torch

from mumo.model import MuMo, MuMoConfig, get_preset, load_pretrained, preset_names, save_pretrained
from mumo.model.config import QUIRKS

#: Parameters of the paper-size encoder (no head): 17 Mamba blocks (7.64 M each), 32 attention modules
#: (2.36 M), 17 graph layers (13.0 M: the embedding layer + 2 per FusionBlock), 8 injections, embedding.
#: docs/model.md §2.1 says "about 438 M used parameters".
PAPER_ENCODER_PARAMS = 437_561_856
PAPER_MLM_HEAD_PARAMS = 768 * 2364 + 2364


def test_unknown_preset_lists_valid_names():
    with pytest.raises(ValueError, match="valid presets: fixed, paper, small, tiny"):
        get_preset("nope")
    assert preset_names() == ["fixed", "paper", "small", "tiny"]


def test_paper_and_fixed_presets():
    paper, fixed = get_preset("paper"), get_preset("fixed")
    assert paper == MuMoConfig()
    sizes = ("vocab_size", "hidden_size", "n_seq_layers", "n_fusion_layers", "n_heads", "d_inner", "d_state")
    assert [getattr(paper, k) for k in sizes] == [2364, 768, 8, 8, 12, 3072, 16]
    assert (paper.d_conv, paper.dt_rank, paper.atom_encoder, paper.init) == (4, 64, "linear", "paper")
    assert all(getattr(paper, q) for q in QUIRKS) and not any(getattr(fixed, q) for q in QUIRKS)
    assert [getattr(fixed, k) for k in sizes] == [getattr(paper, k) for k in sizes]
    for name in ("tiny", "small"):
        assert not any(getattr(get_preset(name), q) for q in QUIRKS)


def test_config_validation_and_overrides():
    assert get_preset("tiny", head="regression", num_tasks=3).num_tasks == 3
    with pytest.raises(ValueError, match="pooler"):
        get_preset("tiny", pooler="max")
    with pytest.raises(ValueError, match="unknown MuMoConfig fields"):
        MuMoConfig.from_dict({"hidden": 3})
    assert MuMoConfig.from_dict(get_preset("small").to_dict()) == get_preset("small")
    assert MuMoConfig.from_dict(get_preset("paper").to_dict()) == get_preset("paper")


def test_a_config_saved_before_a_quirk_existed_loads_with_it_off():
    """Loading must not change how an older model trains or predicts: a missing quirk is the old behaviour."""
    saved = get_preset("paper").to_dict()
    new = ("mamba_ignores_pad_in_training", "random_batch_order", "eval_in_dataset_order")
    loaded = MuMoConfig.from_dict({k: v for k, v in saved.items() if k not in new})
    assert loaded == get_preset("paper", **dict.fromkeys(new, False))


def test_paper_parameter_count():
    with torch.device("meta"):
        model = MuMo(get_preset("paper"))
    encoder = sum(p.numel() for p in model.encoder.parameters())
    assert encoder == PAPER_ENCODER_PARAMS
    assert abs(encoder - 438e6) / 438e6 < 0.01
    assert sum(p.numel() for p in model.head.parameters()) == PAPER_MLM_HEAD_PARAMS


def test_save_load_roundtrip_is_identical(tmp_path, batch):
    model = MuMo(get_preset("tiny", head="regression", graph_sum=True)).eval()
    model.target_scaler.fit(batch.labels.numpy())
    save_pretrained(model, tmp_path / "ckpt")
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == [
        "checksums.json",
        "config.json",
        "model.safetensors",
    ]
    assert json.loads((tmp_path / "ckpt" / "config.json").read_text())["head"] == "regression"
    loaded = load_pretrained(tmp_path / "ckpt").eval()
    assert torch.equal(loaded(batch), model(batch))
    assert torch.equal(loaded.predict(batch), model.predict(batch))


def test_garbled_weights_of_the_same_size_are_refused_naming_the_file(tmp_path, caplog):
    save_pretrained(MuMo(get_preset("tiny", head="regression")), tmp_path)
    weights = tmp_path / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-64:] = bytes(range(64))  # the end of the last tensor: same size, still a valid safetensors file
    weights.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=rf"{weights}: SHA-256 differs from checksums.json"):
        load_pretrained(tmp_path)
    # a model directory from before checksums loads, with a warning that it was not verified
    (tmp_path / "checksums.json").unlink()
    load_pretrained(tmp_path)
    assert "weights not verified" in caplog.text


def test_load_pretrained_encoder_into_a_new_head(tmp_path, batch):
    pretrained = MuMo(get_preset("tiny"))
    save_pretrained(pretrained, tmp_path)
    finetune = load_pretrained(tmp_path, head="classification", pooler="bipooler")
    for name, tensor in pretrained.encoder.state_dict().items():
        assert torch.equal(finetune.encoder.state_dict()[name], tensor)
    assert finetune(batch).shape == (batch.batch_size, 2)
    with pytest.raises(RuntimeError, match="encoder weights do not match"):
        load_pretrained(tmp_path, head="regression", n_seq_layers=2)
