"""Bucketed static shapes (mumo.model.buckets) and the compiled model (mumo.model.compile).

Graph breaks are found by dynamo's tracing with the "eager" backend (no code generation, seconds); one
test runs forward and backward through AOTAutograd ("aot_eager"), which also traces the scan's backward.
"""

from __future__ import annotations

import pytest
import torch
from torch._dynamo.testing import CompileCounter

from mumo.model import MuMo, collate, get_preset
from mumo.model.buckets import bucket, pad_to_buckets, reads_padding
from mumo.model.compile import check_compile_mode, maybe_compile
from mumo.model.config import QUIRKS
from mumo.train.settings import TrainSettings

pytestmark = pytest.mark.slow  # torch.compile takes seconds per graph on a CPU

PAPER_QUIRKS = dict.fromkeys(QUIRKS, True) | {"atom_encoder": "linear"}
HEADS = [
    {"head": "pretrain"},
    {"head": "classification"},
    {"head": "regression", "num_tasks": 2, "pooler": "bipooler"},
    {"head": "multilabel", "num_tasks": 3, "pooler": "mixpooler", "graph_sum": True},
]
VARIANTS = [
    *HEADS,
    {"head": "classification", "injection": "add", "use_geometry": False},
    {"head": "classification", "use_graph": False},
    {"head": "classification", "use_fragments": False},
    {"head": "classification", "pooler": "mixpooler", "graph_sum": True, **PAPER_QUIRKS},
    {"head": "pretrain", **PAPER_QUIRKS},
]


def tiny(**overrides) -> MuMo:
    torch.manual_seed(0)
    return MuMo(get_preset("tiny", **overrides)).train()


def test_bucket_sizes():
    assert [bucket(n) for n in (0, 1, 16, 17, 24, 25, 33, 48, 49, 97, 1000)] == [
        16,
        16,
        16,
        24,
        24,
        32,
        48,
        48,
        64,
        128,
        1024,
    ]
    for n in range(1, 3000):
        assert n <= bucket(n) <= max(16, n * 3 // 2)
        assert bucket(bucket(n)) == bucket(n)


def test_padded_shapes_and_layout(batch):
    config = get_preset("tiny")
    padded = pad_to_buckets(batch, config)
    n_atoms, n_bonds = batch.x.shape[0], batch.edge_index.shape[1]
    assert padded.tokens.shape == (batch.batch_size, bucket(batch.tokens.shape[1]))
    assert not padded.token_mask[:, batch.tokens.shape[1] :].any()
    assert padded.x.shape[0] == bucket(n_atoms + 1) > n_atoms
    assert padded.max_atoms == bucket(batch.max_atoms)
    # padding atoms belong to no molecule; padding bonds and angles stay among padding
    assert (padded.atom_batch[n_atoms:] == batch.batch_size).all()
    assert (padded.edge_index[:, n_bonds:] == n_atoms).all()
    assert (padded.ba_edge_index[:, batch.ba_edge_index.shape[1] :] == n_bonds).all()
    assert padded.frag_ba_edge_index.shape[1] == bucket(batch.frag_ba_edge_index.shape[1])
    assert torch.equal(padded.num_atoms, batch.num_atoms)


def test_quirks_that_read_pads_keep_token_length_and_atom_width(batch):
    config = get_preset("tiny", **PAPER_QUIRKS)
    assert reads_padding(config)
    padded = pad_to_buckets(batch, config)
    assert padded.tokens.shape == batch.tokens.shape and padded.max_atoms == batch.max_atoms
    assert padded.x.shape[0] > batch.x.shape[0]


@pytest.mark.parametrize("overrides", VARIANTS)
def test_bucketing_does_not_change_outputs(batch, overrides):
    model = tiny(**overrides)
    plain = model(batch)
    model.bucketing = True
    bucketed = model(batch)
    assert bucketed.shape == plain.shape
    torch.testing.assert_close(bucketed, plain, rtol=0, atol=1e-6)


def test_bucketing_keeps_an_edgeless_batch_edgeless_under_the_skip_quirk(rng, make_record, make_tokens):
    """A lone atom (no bonds, no angles): padding its empty edge sets would run steps the quirk skips."""
    batch = collate([make_tokens(rng, 5)], [make_record(rng, 1)])
    for skip in (True, False):
        model = tiny(head="classification", skip_edgeless_graph_steps=skip)
        plain = model(batch)
        model.bucketing = True
        torch.testing.assert_close(model(batch), plain, rtol=0, atol=1e-6)
        padded = pad_to_buckets(batch, model.config)
        assert (padded.edge_index.shape[1] == 0) == skip


@pytest.mark.parametrize("overrides", VARIANTS)
def test_compiles_as_one_graph_and_matches_eager(batch, overrides):
    """fullgraph=True: any graph break in the encoder or head raises here."""
    model = tiny(**overrides)
    eager = model(batch)
    counter = CompileCounter()
    maybe_compile(model, True, backend=counter)
    torch._dynamo.reset()
    compiled = model(batch)
    assert counter.frame_count == 2  # the encoder and the head, one graph each
    torch.testing.assert_close(compiled, eager, rtol=0, atol=1e-6)


def test_same_bucket_does_not_recompile_and_another_bucket_does(rng, make_record, make_tokens):
    def batch_of(n_atoms, length):
        """Chains of atoms, so that bond and angle counts follow from the atom counts."""
        records = [make_record(rng, n, bonds=[(i, i + 1) for i in range(n - 1)]) for n in n_atoms]
        return collate([make_tokens(rng, length) for _ in n_atoms], records)

    first, second = batch_of([6, 8], 12), batch_of([7, 8], 14)  # different raw sizes, the same buckets
    model = tiny(head="classification")
    config = model.config
    assert first.x.shape != second.x.shape or first.tokens.shape != second.tokens.shape
    shapes = [
        {k: tuple(v.shape) for k, v in vars(pad_to_buckets(b, config)).items() if torch.is_tensor(v)}
        for b in (first, second)
    ]
    assert shapes[0] == shapes[1]
    counter = CompileCounter()
    maybe_compile(model, True, backend=counter)
    torch._dynamo.reset()
    model(first)
    with torch._dynamo.config.patch(error_on_recompile=True):
        model(second)
    assert counter.frame_count == 2
    model(batch_of([30, 40], 40))
    assert counter.frame_count == 4


def test_training_step_through_aot_autograd_matches_eager(batch):
    """Forward and backward traced by AOTAutograd (the scan's autograd.Function included)."""
    model = tiny(head="regression", pooler="mixpooler", graph_sum=True)
    model.loss(model(batch), batch.labels).backward()
    eager = {name: p.grad.clone() for name, p in model.named_parameters()}
    model.zero_grad()
    maybe_compile(model, True, backend="aot_eager")
    torch._dynamo.reset()
    model.loss(model(batch), batch.labels).backward()
    for name, p in model.named_parameters():
        torch.testing.assert_close(p.grad, eager[name], rtol=1e-5, atol=1e-6, msg=name)


def test_compile_keeps_parameter_names():
    model = tiny(head="classification")
    names = list(model.state_dict())
    maybe_compile(model, True, backend="eager")
    assert list(model.state_dict()) == names


@pytest.mark.parametrize("value", [False, True, "default", "reduce-overhead"])
def test_compile_setting_accepts(value):
    assert TrainSettings(compile=value).compile == value
    assert check_compile_mode(value) == value


@pytest.mark.parametrize("value", [0, 1, "max-autotune", None])
def test_compile_setting_rejects(value):
    with pytest.raises(ValueError, match="compile"):
        TrainSettings(compile=value)


def test_compile_false_leaves_the_model_alone(batch):
    model = tiny()
    assert maybe_compile(model, False) is model and not model.bucketing
