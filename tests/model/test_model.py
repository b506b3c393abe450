import dataclasses

import numpy as np
import pytest
import torch

from mumo.model import MuMo, collate, get_preset, kernels, mask_tokens
from mumo.model.graph_encoder import GraphEmbedding
from mumo.model.mamba import MambaMixer

TOL = {"rtol": 1e-4, "atol": 1e-5}


def tiny(**overrides):
    return MuMo(get_preset("tiny", **overrides)).eval()


@pytest.mark.parametrize(
    ("overrides", "shape"),
    [
        ({}, ("B", "L", 2364)),
        ({"head": "classification", "pooler": "bipooler"}, ("B", 2)),
        ({"head": "multilabel", "num_tasks": 5, "pooler": "mixpooler", "graph_sum": True}, ("B", 5)),
        ({"head": "regression", "num_tasks": 2}, ("B", 2)),
        ({"use_graph": False}, ("B", "L", 2364)),
        ({"use_geometry": False, "use_fragments": False, "injection": "add"}, ("B", "L", 2364)),
        ({"atom_encoder": "linear", "init": "mamba", "additive_mask_bug": True}, ("B", "L", 2364)),
    ],
)
def test_output_shapes(batch, overrides, shape):
    out = tiny(**overrides)(batch)
    sizes = {"B": batch.batch_size, "L": batch.tokens.shape[1]}
    assert out.shape == tuple(sizes.get(s, s) for s in shape)
    assert torch.isfinite(out).all()


def _grads(model, batch, labels):
    model.train()
    model.loss(model(batch), labels).backward()
    return {name: p.grad for name, p in model.named_parameters()}


def test_every_parameter_gets_a_gradient_in_finetuning(batch):
    model = tiny(head="multilabel", num_tasks=2, pooler="mixpooler", graph_sum=True, hidden_dropout=0.1)
    grads = _grads(model, batch, torch.rand(batch.batch_size, 2))
    assert [n for n, g in grads.items() if g is None or not g.any()] == []


def test_every_parameter_gets_a_gradient_in_pretraining_except_last_graph_update(batch):
    """Documented exception: in the last FusionBlock the graph-side updates (graph←seq attention, graph layers,
    global injection) reach only h[:, 0] = [CLS], which the masked-token loss never reads; they get zero gradient
    in pretraining (also in the paper) and are trained only by fine-tuning."""
    model = tiny(n_fusion_layers=2)
    inputs, labels = mask_tokens(batch.tokens, 2364, torch.Generator().manual_seed(0))
    grads = _grads(model, dataclasses.replace(batch, tokens=inputs), labels)
    dead = {n for n, g in grads.items() if g is None or not g.any()}
    last = "encoder.fusion_blocks.1."
    expected = {
        n for n in grads if n.startswith((last + "graph_from_seq", last + "graph_layers", last + "inject"))
    }
    assert dead == expected


def test_forward_does_not_modify_the_batch(batch):
    before = {k: v.clone() for k, v in vars(batch).items() if isinstance(v, torch.Tensor)}
    model = tiny(head="regression", graph_sum=True)
    model.train()
    model.loss(model(batch), batch.labels).backward()
    for key, value in before.items():
        torch.testing.assert_close(getattr(batch, key), value, rtol=0, atol=0, equal_nan=True, msg=key)


def _alone_and_in_batch(model, rng, make_record, make_tokens):
    """The first molecule alone, and in a batch with molecules that have more tokens and atoms."""
    sizes = [4, 12, 9]
    tokens = [make_tokens(rng, n) for n in (6, 25, 17)]
    records = [make_record(rng, n) for n in sizes]
    alone, together = collate(tokens[:1], records[:1]), collate(tokens, records)
    return model(alone)[0], model(together)[0], len(tokens[0])


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"head": "classification", "pooler": "bipooler", "graph_sum": True},
        {"head": "multilabel", "num_tasks": 3, "pooler": "mixpooler"},
        {"injection": "add"},
    ],
)
def test_padding_invariance(rng, make_record, make_tokens, overrides):
    out_alone, out_batch, length = _alone_and_in_batch(tiny(**overrides), rng, make_record, make_tokens)
    if out_alone.dim() == 2:  # per-token logits: compare the real positions
        out_alone, out_batch = out_alone[:length], out_batch[:length]
    torch.testing.assert_close(out_alone, out_batch, **TOL)


def test_additive_mask_quirk_breaks_padding_invariance(rng, make_record, make_tokens):
    model = tiny(additive_mask_bug=True)
    out_alone, out_batch, length = _alone_and_in_batch(model, rng, make_record, make_tokens)
    assert not torch.allclose(out_alone[:length], out_batch[:length], **TOL)


def _rotation(rng):
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    return q * np.sign(np.linalg.det(q))


@pytest.mark.parametrize("atom_encoder", ["linear", "embedding"])
def test_prior_is_invariant_to_rigid_motion_and_atom_order(rng, make_record, make_tokens, atom_encoder):
    template = make_record(rng, 10)
    pos, bonds = template["pos"].astype(np.float64), template["bonds"]
    moved_pos = pos @ _rotation(rng).T + rng.normal(size=3) * 5
    rec = make_record(np.random.default_rng(7), 10, pos=pos, bonds=bonds)
    moved = make_record(np.random.default_rng(7), 10, pos=moved_pos, bonds=bonds)
    # atom re-ordering: atom i becomes atom inverse[i]; bonds keep their order, so the angle graph is unchanged
    perm = rng.permutation(10)
    inverse = np.argsort(perm)
    permuted = dict(rec, x=rec["x"][perm])
    for key in ("edge_index", "frag_edge_index"):
        permuted[key] = inverse[rec[key]]
    tokens = [make_tokens(rng, 14)]
    batches = [collate(tokens, [r]) for r in (rec, moved, permuted)]

    model = tiny(atom_encoder=atom_encoder, head="regression", graph_sum=True)
    embedding = model.encoder.graph_embedding
    states = [embedding(b) for b in batches]
    torch.testing.assert_close(states[1].x, states[0].x, **TOL)
    torch.testing.assert_close(states[2].x, states[0].x[perm], **TOL)
    torch.testing.assert_close(states[2].bond, states[0].bond, **TOL)
    outputs = [model(b) for b in batches]
    torch.testing.assert_close(outputs[1], outputs[0], **TOL)
    torch.testing.assert_close(outputs[2], outputs[0], **TOL)


def test_without_graph_the_graph_is_ignored(batch):
    model = tiny(use_graph=False)
    assert model.encoder.graph_embedding is None
    shuffled = dataclasses.replace(batch, x=batch.x.flip(0), ba_angle=batch.ba_angle + 1)
    torch.testing.assert_close(model(shuffled), model(batch))


def test_graph_embedding_without_geometry_ignores_angles(batch):
    embedding = GraphEmbedding(get_preset("tiny", use_geometry=False))
    other = dataclasses.replace(batch, ba_angle=batch.ba_angle * 2, frag_ba_angle=batch.frag_ba_angle + 1)
    torch.testing.assert_close(embedding(other).x, embedding(batch).x)


def _edgeless(record: dict, keep_bonds: bool) -> dict:
    """`record` cut to one atom without bonds (methane), or to two atoms and one bond without angles (ethane)."""
    out = dict(record, x=record["x"][: 2 if keep_bonds else 1])
    for prefix in ("", "frag_"):
        bonds = [(0, 1), (1, 0)] if keep_bonds else []
        out[prefix + "edge_index"] = np.asarray(bonds, dtype=np.int64).reshape(-1, 2).T
        out[prefix + "edge_attr"] = np.zeros((len(bonds), 3), dtype=np.int64)
        out[prefix + "ba_edge_index"] = np.zeros((2, 0), dtype=np.int64)
        out[prefix + "ba_angle"] = np.zeros(0, dtype=np.float32)
    return out


@pytest.mark.parametrize("keep_bonds", [False, True], ids=["no bonds", "no angles"])
@pytest.mark.parametrize("atom_encoder", ["embedding", "linear"])
def test_molecule_without_bonds_or_angles_is_predicted_the_same_in_any_batch(
    rng, make_record, make_tokens, keep_bonds, atom_encoder
):
    # `mumo predict --batch-size` must not change a prediction: methane once moved by 0.012 with its batch
    model = tiny(head="regression", graph_sum=True, atom_encoder=atom_encoder)
    small = _edgeless(make_record(rng, 3), keep_bonds)
    tokens, records = [make_tokens(rng, 3), make_tokens(rng, 20)], [small, make_record(rng, 12)]
    alone, together = model(collate(tokens[:1], records[:1])), model(collate(tokens, records))
    torch.testing.assert_close(alone[0], together[0], **TOL)


@pytest.mark.parametrize("keep_bonds", [False, True], ids=["no bonds", "no angles"])
def test_skip_edgeless_graph_steps_quirk_makes_a_bondless_molecule_depend_on_its_batch(
    rng, make_record, make_tokens, keep_bonds
):
    # the reference skips a graph step when no molecule of the batch has its edges; `paper` keeps that
    assert get_preset("paper").skip_edgeless_graph_steps and not get_preset("fixed").skip_edgeless_graph_steps
    model = tiny(head="regression", skip_edgeless_graph_steps=True)
    small = _edgeless(make_record(rng, 3), keep_bonds)
    tokens, records = [make_tokens(rng, 3), make_tokens(rng, 20)], [small, make_record(rng, 12)]
    alone, together = model(collate(tokens[:1], records[:1])), model(collate(tokens, records))
    assert not torch.allclose(alone[0], together[0], **TOL)


def test_batch_without_bonds_or_angles_runs(rng, make_record, make_tokens):
    single_atoms = [dict(make_record(rng, 3), x=np.zeros((1, 9), dtype=np.int64)) for _ in range(2)]
    for record in single_atoms:
        for prefix in ("", "frag_"):
            record[prefix + "edge_index"] = np.zeros((2, 0), dtype=np.int64)
            record[prefix + "edge_attr"] = np.zeros((0, 3), dtype=np.int64)
            record[prefix + "ba_edge_index"] = np.zeros((2, 0), dtype=np.int64)
            record[prefix + "ba_angle"] = np.zeros(0, dtype=np.float32)
    batch = collate([make_tokens(rng, 3), make_tokens(rng, 5)], single_atoms)
    assert torch.isfinite(tiny(head="regression")(batch)).all()


def test_mixer_paths_agree():
    config = get_preset("tiny")
    mixer = MambaMixer(config)
    hidden, mask = torch.randn(3, 20, config.hidden_size), torch.ones(3, 20, dtype=torch.bool)
    mask[0, 12:] = False
    outs = []
    for impl in ("ref", "torch"):
        mixer.impl = impl
        outs.append(mixer(hidden, mask))
    torch.testing.assert_close(outs[1], outs[0], **TOL)


def _mixer_pair(**overrides):
    """Mixers with the same weights, the `mamba_ignores_pad_in_training` quirk on and off."""
    on = MambaMixer(get_preset("tiny", mamba_ignores_pad_in_training=True, **overrides))
    off = MambaMixer(get_preset("tiny", mamba_ignores_pad_in_training=False, **overrides))
    off.load_state_dict(on.state_dict())
    return on, off


@pytest.mark.parametrize("impl", ["ref", "torch"])
def test_mixer_quirk_ignores_the_pad_mask_in_training_mode_only(impl):
    on, off = _mixer_pair(kernel_impl=impl)
    hidden, mask = torch.randn(3, 20, 32), torch.ones(3, 20, dtype=torch.bool)
    mask[0, 12:], mask[2, 5:] = False, False
    masked = off.eval()(hidden, mask)
    assert (masked[~mask] == 0).all()  # zeroed x gives y = 0 at pads: nothing there to leak
    # training mode, quirk on: exactly the unmasked mixer (the fused kernel's view); pads carry the scan
    train_out = on.train()(hidden, mask)
    assert torch.equal(train_out, off(hidden, None))
    assert train_out[~mask].abs().max() > 1e-2
    # causal scan, right padding: real tokens are unaffected by the mixer's own mask either way
    torch.testing.assert_close(train_out[mask], masked[mask], rtol=0, atol=0)
    assert torch.equal(on.eval()(hidden, mask), masked)  # evaluation masks as the fixed model does
    assert torch.equal(off.train()(hidden, mask), masked)  # quirk off: training mode changes nothing


def _pretrain_pair(additive_mask_bug: bool):
    """Whole tiny models with the same weights, the Mamba pad quirk on and off."""
    on = MuMo(get_preset("tiny", additive_mask_bug=additive_mask_bug, mamba_ignores_pad_in_training=True))
    off = MuMo(get_preset("tiny", additive_mask_bug=additive_mask_bug, mamba_ignores_pad_in_training=False))
    off.load_state_dict(on.state_dict())
    return on, off


def test_unmasked_training_mamba_leaks_pads_into_real_tokens_through_the_additive_mask(batch):
    """The tiny preset has no dropout, so training mode is deterministic and the two can be compared."""
    real = batch.token_mask
    assert not real.all()  # the fixture's molecules have different lengths: there are pads
    on, off = _pretrain_pair(additive_mask_bug=True)
    moved = (on.train()(batch) - off.train()(batch))[real].abs().max()
    assert moved > 1e-3, moved
    assert torch.equal(on.eval()(batch), off.eval()(batch))
    # with a proper −inf key mask the unmasked pad states stay where they are: real tokens are unchanged
    on, off = _pretrain_pair(additive_mask_bug=False)
    assert torch.equal(on.train()(batch)[real], off.train()(batch)[real])


def test_mamba_init_option_sets_delta_bias_range():
    config = get_preset("tiny", init="mamba")
    mixer = MambaMixer(config)
    dt = torch.nn.functional.softplus(mixer.dt_proj.bias)
    assert dt.min() >= config.dt_min * 0.999 and dt.max() <= config.dt_max * 1.001
    default = MambaMixer(get_preset("tiny"))
    assert default.dt_proj.bias.abs().max() <= config.dt_rank**-0.5
    torch.testing.assert_close(default.A_log[0].exp(), torch.arange(1.0, 17.0))
    assert (default.D == 1).all()


@pytest.mark.slow
def test_overfits_32_molecules(make_record, make_tokens):
    rng = np.random.default_rng(1)
    sizes = rng.integers(3, 15, size=32)
    batch = collate(
        [make_tokens(rng, int(n) + 4) for n in sizes],
        [make_record(rng, int(n)) for n in sizes],
        labels=rng.normal(size=32),
    )
    model = MuMo(get_preset("tiny", head="regression"))
    model.target_scaler.fit(batch.labels.numpy())
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(100):
        loss = model.loss(model(batch), batch.labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 1e-3
    predictions = model.eval().predict(batch)
    torch.testing.assert_close(predictions[:, 0], batch.labels, rtol=0, atol=0.1)


# ----------------------------------------------------------------------------------------------
# CUDA (run on a GPU machine)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_model_on_cuda_matches_cpu(batch):
    """fp32, pure-PyTorch kernels on both; cuDNN's TF32 convolutions are turned off for the comparison."""
    model = tiny(head="regression", pooler="mixpooler", graph_sum=True, kernel_impl="torch")
    expected = model(batch)
    with torch.backends.cudnn.flags(enabled=True, allow_tf32=False):
        actual = model.cuda()(batch.to("cuda")).cpu()
    torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.skipif(
    kernels.cuda_selective_scan_fn is None or kernels.cuda_causal_conv1d_fn is None,
    reason="mamba-ssm / causal-conv1d kernels not importable",
)
def test_model_kernel_path_matches_torch_path_in_bf16(batch):
    """Same weights, bf16 autocast: kernels vs pure PyTorch on the hidden states (tolerance 5e-2: bf16)."""
    model = MuMo(get_preset("small")).cuda().eval()
    outputs = {}
    for impl in ("torch", "cuda"):
        for module in model.modules():
            if isinstance(module, MambaMixer):
                module.impl = impl
        with torch.autocast("cuda", dtype=torch.bfloat16):
            outputs[impl] = model.encoder(batch.to("cuda")).hidden.float()
    torch.testing.assert_close(outputs["cuda"], outputs["torch"], rtol=5e-2, atol=5e-2)
