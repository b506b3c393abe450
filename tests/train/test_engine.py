import pytest

from mumo.train import resume as ckpt
from mumo.train.engine import deepspeed_config, lr_lambda
from mumo.train.settings import TrainSettings


@pytest.mark.parametrize("schedule", ["linear", "cosine", "constant"])
def test_schedule_warms_up_then_decays(schedule):
    factor = lr_lambda(schedule, warmup_steps=10, total_steps=110)
    warmup = [factor(s) for s in range(10)]
    assert warmup == sorted(warmup) and 0 < warmup[0] < warmup[-1] < 1
    assert factor(10) == 1.0
    end = factor(109)
    assert end == pytest.approx(1.0 if schedule == "constant" else 0.0, abs=0.011)
    if schedule == "cosine":
        assert factor(60) == pytest.approx(0.5)


def test_deepspeed_config_takes_batch_accumulation_and_clipping():
    config = deepspeed_config(TrainSettings(zero_stage=2, batch_size=4, grad_accum=3, clip=0.5))
    assert config["zero_optimization"]["stage"] == 2
    assert (config["train_micro_batch_size_per_gpu"], config["gradient_accumulation_steps"]) == (4, 3)
    assert config["gradient_clipping"] == 0.5
    assert deepspeed_config(TrainSettings(zero_stage=0))["zero_optimization"]["stage"] == 0


def test_pointer_moves_only_on_commit_and_old_tags_are_pruned(tmp_path):
    for step in (2, 4, 6):
        (tmp_path / ckpt.tag_for(step)).mkdir()
        ckpt.commit(tmp_path, ckpt.tag_for(step), step, "key")
    assert ckpt.read_pointer(tmp_path) == {"tag": ckpt.tag_for(6), "step": 6, "run_key": "key"}
    assert sorted(p.name for p in tmp_path.glob("step*")) == [ckpt.tag_for(4), ckpt.tag_for(6)]
    # a save killed half-way: a newer tag exists, the pointer still names the last complete one
    half = tmp_path / ckpt.tag_for(8)
    half.mkdir()
    (half / "mp_rank_00_model_states.pt").write_bytes(b"truncated")
    assert ckpt.read_pointer(tmp_path)["tag"] == ckpt.tag_for(6)
    ckpt.discard_uncommitted(tmp_path)
    assert not half.exists() and (tmp_path / ckpt.tag_for(6)).exists()
