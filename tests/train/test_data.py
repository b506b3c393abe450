import numpy as np
import torch

from mumo.train.data import LengthBatchSampler, batch_generator, length_batches


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


def test_batches_are_seeded_and_change_with_the_epoch():
    lengths = _lengths()
    a = LengthBatchSampler(lengths, 16, seed=1).global_batches(0)
    assert a == LengthBatchSampler(lengths, 16, seed=1).global_batches(0)
    assert a != LengthBatchSampler(lengths, 16, seed=1).global_batches(1)
    assert a != LengthBatchSampler(lengths, 16, seed=2).global_batches(0)


def test_ranks_times_accumulation_take_the_same_steps_as_one_process():
    lengths = _lengths(203)
    one = LengthBatchSampler(lengths, 8, seed=0, multiple_of=4)
    one.set_epoch(3)
    ranks = []
    for rank in range(2):
        sampler = LengthBatchSampler(lengths, 8, seed=0, rank=rank, world_size=2, multiple_of=2)
        sampler.set_epoch(3)
        ranks.append(list(sampler))
    single = list(one)
    assert len(single) % 4 == 0 and len(ranks[0]) == len(ranks[1]) == len(single) // 2
    for step in range(len(single) // 4):
        together = ranks[0][2 * step : 2 * step + 2] + ranks[1][2 * step : 2 * step + 2]
        assert sorted(map(tuple, together)) == sorted(map(tuple, single[4 * step : 4 * step + 4]))


def test_sampler_resumes_mid_epoch():
    sampler = LengthBatchSampler(_lengths(), 16, seed=0)
    sampler.set_epoch(2)
    full = list(sampler)
    sampler.set_epoch(2, start=5)
    assert list(sampler) == full[5:] and len(sampler) == len(full)


def test_batch_generator_depends_on_the_place_only():
    draw = lambda g: torch.rand(4, generator=g)  # noqa: E731
    assert torch.equal(draw(batch_generator(0, 1, 2)), draw(batch_generator(0, 1, 2)))
    assert not torch.equal(draw(batch_generator(0, 1, 2)), draw(batch_generator(0, 1, 3)))
