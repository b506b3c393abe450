import hashlib
import json

import numpy as np
import pytest
import torch

from mumo.train.data import LengthBatchSampler, batch_generator, eval_batches, length_batches, random_batches


def _lengths(n=500, seed=0):
    return np.random.default_rng(seed).integers(10, 200, size=n)


def test_length_batches_cover_everything_once_and_pad_little():
    lengths = _lengths()
    batches = length_batches(lengths, 16, np.random.default_rng(0))
    flat = np.concatenate(batches)
    assert sorted(flat) == list(range(len(lengths)))
    spread = np.mean([np.ptp(lengths[b]) for b in batches])
    random_spread = np.mean([np.ptp(lengths[b]) for b in np.array_split(np.arange(500), 32)])
    assert spread < random_spread / 4  # bucketed: far less padding than random batches


def _digest(batches):
    return hashlib.sha256(json.dumps(batches).encode()).hexdigest()[:16]


def test_length_grouped_batches_are_those_of_before_the_order_quirks():
    """Digests recorded with the code before `random_batch_order` / `eval_in_dataset_order` existed: with the
    quirks off, training and evaluation batches are bit-identical to that code's."""
    sampler = LengthBatchSampler(_lengths(), 16, seed=0, rank=1, world_size=2, multiple_of=2)
    sampler.set_epoch(1)
    assert _digest(sampler.global_batches(1)) == "fe25a2cb2184f02e"
    assert _digest(list(sampler)) == "6de1e5dff7de6cb2"
    assert _digest(eval_batches(_lengths(), 16, in_dataset_order=False)) == "bc5f6abc48205a0e"


def test_random_batches_cover_everything_once_and_ignore_length():
    lengths = _lengths()
    batches = random_batches(len(lengths), 16, np.random.default_rng(0))
    assert sorted(np.concatenate(batches)) == list(range(len(lengths)))
    assert [len(b) for b in batches] == [16] * 31 + [4]
    grouped = length_batches(lengths, 16, np.random.default_rng(0))
    spread = lambda bs: np.mean([np.ptp(lengths[b]) for b in bs])  # noqa: E731
    assert spread(batches) > 4 * spread(grouped)  # as much padding as any random draw
    assert batches != sorted(batches)  # shuffled, not in dataset order


def test_eval_batches_in_dataset_order_are_consecutive_rows():
    lengths = _lengths(37)
    assert eval_batches(lengths, 8, in_dataset_order=True) == [
        list(range(i, min(i + 8, 37))) for i in range(0, 37, 8)
    ]
    by_length = eval_batches(lengths, 8, in_dataset_order=False)
    assert by_length == length_batches(lengths, 8, rng=None)
    assert sorted(np.concatenate(by_length)) == list(range(37))


@pytest.mark.parametrize("by_length", [True, False])
def test_batches_are_seeded_and_change_with_the_epoch(by_length):
    lengths = _lengths()
    sampler = lambda seed: LengthBatchSampler(lengths, 16, seed=seed, by_length=by_length)  # noqa: E731
    a = sampler(1).global_batches(0)
    assert a == sampler(1).global_batches(0)
    assert a != sampler(1).global_batches(1)
    assert a != sampler(2).global_batches(0)
    assert a != LengthBatchSampler(lengths, 16, seed=1, by_length=not by_length).global_batches(0)


@pytest.mark.parametrize("by_length", [True, False])
def test_ranks_times_accumulation_take_the_same_steps_as_one_process(by_length):
    lengths = _lengths(203)
    one = LengthBatchSampler(lengths, 8, seed=0, multiple_of=4, by_length=by_length)
    one.set_epoch(3)
    ranks = []
    for rank in range(2):
        sampler = LengthBatchSampler(
            lengths, 8, seed=0, rank=rank, world_size=2, multiple_of=2, by_length=by_length
        )
        sampler.set_epoch(3)
        ranks.append(list(sampler))
    single = list(one)
    assert len(single) % 4 == 0 and len(ranks[0]) == len(ranks[1]) == len(single) // 2
    for step in range(len(single) // 4):
        together = ranks[0][2 * step : 2 * step + 2] + ranks[1][2 * step : 2 * step + 2]
        assert sorted(map(tuple, together)) == sorted(map(tuple, single[4 * step : 4 * step + 4]))


@pytest.mark.parametrize("by_length", [True, False])
def test_sampler_resumes_mid_epoch(by_length):
    sampler = LengthBatchSampler(_lengths(), 16, seed=0, by_length=by_length)
    sampler.set_epoch(2)
    full = list(sampler)
    sampler.set_epoch(2, start=5)
    assert list(sampler) == full[5:] and len(sampler) == len(full)


def test_batch_generator_depends_on_the_place_only():
    draw = lambda g: torch.rand(4, generator=g)  # noqa: E731
    assert torch.equal(draw(batch_generator(0, 1, 2)), draw(batch_generator(0, 1, 2)))
    assert not torch.equal(draw(batch_generator(0, 1, 2)), draw(batch_generator(0, 1, 3)))
