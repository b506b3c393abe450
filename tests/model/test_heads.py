import math

import numpy as np
import pytest
import torch

from mumo.model import TargetScaler, get_preset, mask_tokens
from mumo.model.batch import MASK_ID, special_token_ids
from mumo.model.heads import IGNORE_INDEX, Pooler, PropertyHead

V = 2364


def token_batch(rows=200, length=40):
    g = torch.Generator().manual_seed(0)
    tokens = torch.randint(4, V - 3, (rows, length), generator=g)
    tokens[:, 0], tokens[:, -1] = 1, 3  # [CLS] ... [SEP]
    tokens[::2, -10:] = 2  # padding
    tokens[1, 1:-1] = V - 3  # a sequence of [UNK]s: nothing to mask
    return tokens


def test_masking_never_selects_specials_and_forces_one():
    tokens = token_batch()
    inputs, labels = mask_tokens(tokens, V, torch.Generator().manual_seed(1))
    selected = labels != IGNORE_INDEX
    special = torch.isin(tokens, torch.tensor(special_token_ids(V)))
    assert not (selected & special).any()
    assert (inputs[~selected] == tokens[~selected]).all()
    assert (labels[selected] == tokens[selected]).all()
    has_maskable = (~special).any(dim=1)
    assert (selected.any(dim=1) == has_maskable).all() and not has_maskable[1]
    # a short sequence with a single maskable token always gets it selected
    _, short_labels = mask_tokens(torch.tensor([[1, 7, 3]] * 50), V, torch.Generator().manual_seed(2))
    assert (short_labels[:, 1] == 7).all()


def test_masking_rates_and_seeding():
    tokens = token_batch(rows=2000)
    inputs, labels = mask_tokens(tokens, V, torch.Generator().manual_seed(3))
    selected = labels != IGNORE_INDEX
    maskable = ~torch.isin(tokens, torch.tensor(special_token_ids(V)))
    assert math.isclose(selected.sum() / maskable.sum(), 0.15, abs_tol=0.01)
    masked = (inputs == MASK_ID) & selected
    kept = (inputs == tokens) & selected
    assert math.isclose(masked.sum() / selected.sum(), 0.8, abs_tol=0.02)
    assert math.isclose(kept.sum() / selected.sum(), 0.1 + 0.1 / (V - 7), abs_tol=0.02)
    random_ids = inputs[selected & ~masked & ~kept]
    assert ((random_ids >= 4) & (random_ids < V - 3)).all()
    again = mask_tokens(tokens, V, torch.Generator().manual_seed(3))
    assert torch.equal(again[0], inputs) and torch.equal(again[1], labels)


@pytest.mark.parametrize("reads_pad", [True, False])
def test_bipooler_last_position(reads_pad):
    config = get_preset("tiny", head="classification", pooler="bipooler", bipooler_reads_pad=reads_pad)
    pooler = Pooler(config)
    hidden = torch.randn(2, 5, config.hidden_size)
    mask = torch.tensor([[True] * 5, [True, True, True, False, False]])
    pooled = pooler(hidden, mask, None)
    last_row = 4 if reads_pad else 2
    torch.testing.assert_close(pooled[1, config.hidden_size :], torch.tanh(pooler.last(hidden[1, last_row])))


@pytest.mark.parametrize("reads_pad", [True, False])
def test_mixpooler_mean(reads_pad):
    config = get_preset("tiny", head="multilabel", pooler="mixpooler", mixpooler_mean_reads_pad=reads_pad)
    hidden = torch.randn(1, 4, config.hidden_size)
    mask = torch.tensor([[True, True, False, False]])
    mean = Pooler(config)(hidden, mask, None)[0, 2 * config.hidden_size :]
    torch.testing.assert_close(mean, hidden[0].mean(0) if reads_pad else hidden[0, :2].mean(0))


def test_head_init_is_xavier_with_zero_bias():
    head = PropertyHead(get_preset("tiny", head="regression", pooler="bipooler"))
    for layer in (head.pooler.cls, head.pooler.last, head.out):
        assert (layer.bias == 0).all()
        bound = math.sqrt(6 / sum(layer.weight.shape))
        assert layer.weight.abs().max() <= bound and layer.weight.abs().max() > 0.8 * bound


def test_multilabel_nan_handling():
    logits = torch.tensor([[2.0, -1.0], [0.5, 3.0]])
    labels = torch.tensor([[1.0, float("nan")], [0.0, 1.0]])
    masked = PropertyHead(get_preset("tiny", head="multilabel", num_tasks=2, nan_labels_as_negative=False))
    quirk = PropertyHead(get_preset("tiny", head="multilabel", num_tasks=2, nan_labels_as_negative=True))
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    present = ~torch.isnan(labels)
    torch.testing.assert_close(masked.loss(logits, labels), bce(logits[present], labels[present]))
    torch.testing.assert_close(quirk.loss(logits, labels), bce(logits, torch.nan_to_num(labels)))


def test_classification_and_regression_losses():
    head = PropertyHead(get_preset("tiny", head="classification"))
    logits = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]])
    labels = torch.tensor([0.0, 1.0, float("nan")])
    expected = torch.nn.functional.cross_entropy(logits[:2], torch.tensor([0, 1]))
    torch.testing.assert_close(head.loss(logits, labels), expected)
    torch.testing.assert_close(head.predict(logits), logits.softmax(-1)[:, 1])
    reg = PropertyHead(get_preset("tiny", head="regression", num_tasks=2))
    preds, targets = torch.tensor([[1.0, 2.0]]), torch.tensor([[0.0, float("nan")]])
    torch.testing.assert_close(reg.loss(preds, targets), torch.tensor(1.0))


def test_target_scaler_roundtrip_and_state():
    y = np.array([[1.0, 10.0], [3.0, np.nan], [5.0, 30.0]])
    scaler = TargetScaler(2).fit(y)
    torch.testing.assert_close(scaler.mean, torch.tensor([3.0, 20.0]))
    torch.testing.assert_close(scaler.std, torch.tensor([math.sqrt(8 / 3), 10.0]))
    t = torch.tensor(y, dtype=torch.float32)
    torch.testing.assert_close(scaler.inverse_transform(scaler.transform(t)), t, equal_nan=True)
    restored = TargetScaler(2)
    restored.load_state_dict(scaler.state_dict())
    torch.testing.assert_close(restored.transform(t), scaler.transform(t), equal_nan=True)


@pytest.mark.parametrize(("head", "num_tasks"), [("classification", 1), ("multilabel", 2), ("regression", 2)])
def test_a_batch_without_labels_has_zero_loss_not_nan(head, num_tasks):
    """A small batch can hold only unlabelled molecules of a multi-task set: that step must not poison the run."""
    config = get_preset("tiny", head=head, num_tasks=num_tasks, nan_labels_as_negative=False)
    width = 2 if head == "classification" else num_tasks
    logits = torch.randn(3, width, requires_grad=True)
    loss = PropertyHead(config).loss(logits, torch.full((3, num_tasks), float("nan")))
    assert loss.item() == 0.0
    loss.backward()
    assert torch.equal(logits.grad, torch.zeros_like(logits))
