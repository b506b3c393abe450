"""The training engine: DeepSpeed (client AdamW, LambdaLR warm-up + decay, ZeRO 0/2) in one readable loop.

The same code runs as one CPU process (it makes its own one-process group), as N CPU processes under
`torchrun` (gloo) and as N GPU processes on a node (nccl). One optimizer step is `batch_size` molecules ×
`grad_accum` micro-batches × world size; N processes × accumulation k and 1 process × accumulation N·k take
the same optimizer steps over the same batches (see `LengthBatchSampler`).

Precision: fp32 weights always; "bf16" runs forward and loss under `torch.autocast` (the paper's bf16
autocast), which needs no casting of the integer/float inputs of a MolBatch.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import os
import random
import resource
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as tdist
from safetensors.torch import load_file
from torch.optim.lr_scheduler import LambdaLR
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from mumo.model import MuMo, save_pretrained
from mumo.model.batch import MolBatch
from mumo.model.checkpoint import WEIGHTS_NAME
from mumo.model.compile import maybe_compile
from mumo.train import checkpoint as ckpt
from mumo.train.data import LengthBatchSampler, MoleculeDataset, batch_generator, eval_batches
from mumo.train.metrics_log import MetricsLog, plot_learning_curve
from mumo.train.settings import TrainSettings

logger = logging.getLogger(__name__)

#: shipped inside the package, so a non-editable install trains too; config/deepspeed links here
DEEPSPEED_CONFIG_DIR = Path(__file__).parent / "deepspeed"

#: loss of one micro-batch; the generator drives any randomness of the objective (e.g. token masking)
LossFn = Callable[[MuMo, MolBatch, torch.Generator], torch.Tensor]


# --------------------------------------------------------------------------------------------------
# Processes


@dataclass(frozen=True)
class Dist:
    rank: int
    local_rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        tdist.barrier()


def avoid_shm_comm_build() -> None:
    """Stop DeepSpeed from JIT-compiling its shared-memory all-reduce op on the CPU accelerator.

    `deepspeed.init_distributed` on CPU builds `deepspeed_shm_comm` with ninja + g++ (45–77 s the first time on
    a machine, then cached in ~/.cache/torch_extensions). The op only speeds up intra-node CPU all-reduce over
    gloo, which is negligible next to our step times. Marking it incompatible goes through DeepSpeed's own gate
    (`deepspeed/comm/torch.py: build_shm_op` returns None for incompatible ops) and leaves plain gloo.
    """
    import deepspeed.ops

    deepspeed.ops.__compatible_ops__["deepspeed_shm_comm"] = False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def distributed() -> Iterator[Dist]:
    """Join the process group of a torchrun / deepspeed launch, or make a one-process group on a free port.

    The group lives as long as the process and later runs in it reuse it (DeepSpeed caches sub-groups of the
    first group in module globals, so a destroyed group cannot be made again). The variables set to make a
    one-process group are removed on exit, so child processes do not mistake themselves for launched ranks.
    """
    import deepspeed

    deepspeed.utils.logger.setLevel(logging.WARNING)
    cuda = torch.cuda.is_available()
    if not cuda:
        avoid_shm_comm_build()
    added = {}
    if "WORLD_SIZE" not in os.environ:
        added = {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(_free_port()), "RANK": "0", "LOCAL_RANK": "0"}
        added["WORLD_SIZE"] = "1"
        os.environ.update(added)
    try:
        local_rank = int(os.environ.get("LOCAL_RANK", 0))
        device = torch.device("cuda", local_rank) if cuda else torch.device("cpu")
        if cuda:
            torch.cuda.set_device(device)  # before NCCL starts, so each rank talks through its own GPU
        deepspeed.init_distributed(
            dist_backend="nccl" if cuda else "gloo", auto_mpi_discovery=False, verbose=False
        )
        yield Dist(tdist.get_rank(), local_rank, tdist.get_world_size(), device)
    finally:
        for key in added:
            os.environ.pop(key, None)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


def autocast(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast for precision "bf16", or "auto" on CUDA; a no-op context for fp32."""
    bf16 = precision == "bf16" or (precision == "auto" and device.type == "cuda")
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)


def peak_memory_mb(device: torch.device) -> float:
    """Peak GPU memory allocated by torch, or the process's peak resident set size on CPU."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


# --------------------------------------------------------------------------------------------------
# Optimisation


def lr_lambda(schedule: str, warmup_steps: int, total_steps: int) -> Callable[[int], float]:
    """Multiplier of the base lr at step s: linear warm-up to 1, then linear/cosine decay towards 0, or constant."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / (warmup_steps + 1)
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        if schedule == "linear":
            return 1.0 - progress
        if schedule == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * progress))
        return 1.0

    return factor


def deepspeed_config(settings: TrainSettings) -> dict:
    """`mumo/train/deepspeed/zero{stage}.json` (config/deepspeed/ links there) with the batch, accumulation
    and clipping of these settings."""
    path = DEEPSPEED_CONFIG_DIR / f"zero{settings.zero_stage}.json"
    if not path.exists():
        raise FileNotFoundError(f"no DeepSpeed config {path} (zero_stage={settings.zero_stage})")
    return json.loads(path.read_text()) | {
        "train_micro_batch_size_per_gpu": settings.batch_size,
        "gradient_accumulation_steps": settings.grad_accum,
        "gradient_clipping": settings.clip,
    }


@torch.no_grad()
def dataset_loss(
    model: MuMo, dataset: MoleculeDataset, loss_fn: LossFn, settings: TrainSettings, dist: Dist
) -> float:
    """Mean loss per molecule over a dataset, batches shared among the processes; fixed randomness per batch."""
    was_training = model.training
    model.eval()
    totals = torch.zeros(2, dtype=torch.float64, device=dist.device)
    batches = eval_batches(dataset.lengths, settings.batch_size, model.config.eval_in_dataset_order)
    for index in range(dist.rank, len(batches), dist.world_size):
        batch = dataset.batch(batches[index]).to(dist.device)
        with autocast(settings.precision, dist.device):
            loss = loss_fn(model, batch, batch_generator(settings.seed, 1, index))
        totals += torch.stack([loss.double() * batch.batch_size, totals.new_tensor(batch.batch_size)])
    model.train(was_training)
    tdist.all_reduce(totals)
    return (totals[0] / totals[1]).item()


# --------------------------------------------------------------------------------------------------
# The loop


@dataclass
class LoopState:
    """Where the loop is; saved in every checkpoint (identical on all ranks)."""

    step: int = 0
    epoch: int = 0
    batch: int = 0  # micro-batches of this epoch already run by each process
    best_valid: float = math.inf
    best_step: int | None = None
    bad_evals: int = 0
    stopped_early: bool = False


@dataclass
class TrainResult:
    steps: int
    finished: bool  # False when max_steps_this_invocation stopped it (resume by running again)
    stopped_early: bool
    best_step: int | None
    best_valid: float | None


def train(
    model: MuMo,
    train_set: MoleculeDataset,
    loss_fn: LossFn,
    evaluate: Callable[[MuMo], float] | None,
    settings: TrainSettings,
    out_dir: str | Path,
    dist: Dist,
    run_key: str,
) -> TrainResult:
    """Train `model` in place; on return it holds the selected weights (last, or best validation loss).

    Writes `out_dir/metrics.csv`, `learning_curve.png`, `checkpoints/` and, with selection best_valid,
    `best/` (save_pretrained). Resumes from `checkpoints/` when it holds a checkpoint with this `run_key`
    (the settings, inputs and world size); a checkpoint of another run is deleted, with a warning. Once the
    run is finished, both folders are deleted (the caller saves the selected weights once, as `model/`)
    unless `keep_checkpoints`. Logs one line per epoch: train loss, validation loss, learning rate, time.
    """
    import deepspeed

    out_dir, s = Path(out_dir), settings
    ckpt_dir, best_dir = out_dir / "checkpoints", out_dir / "best"
    run_key = f"{run_key}|world_size={dist.world_size}"
    sampler = LengthBatchSampler(
        train_set.lengths,
        s.batch_size,
        s.seed,
        dist.rank,
        dist.world_size,
        s.grad_accum,
        by_length=not model.config.random_batch_order,
    )
    steps_per_epoch = len(sampler) // s.grad_accum
    total = (
        s.epochs * steps_per_epoch if s.max_steps is None else min(s.max_steps, s.epochs * steps_per_epoch)
    )
    eval_every, checkpoint_every = s.eval_every or steps_per_epoch, s.checkpoint_every or steps_per_epoch
    loader = DataLoader(
        train_set,
        batch_sampler=sampler,
        collate_fn=train_set.collate,
        num_workers=s.num_workers,
        persistent_workers=s.num_workers > 0,
    )
    maybe_compile(model, s.compile)  # in place: the encoder and head compiled over bucketed shapes
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=s.lr, betas=s.betas, eps=s.eps, weight_decay=s.weight_decay
    )
    engine, *_ = deepspeed.initialize(
        model=model,
        optimizer=optimizer,
        lr_scheduler=lambda opt: LambdaLR(opt, lr_lambda(s.schedule, s.warmup_steps, total)),
        config=deepspeed_config(s),
        dist_init_required=False,
    )
    module: MuMo = engine.module

    state = LoopState()
    if dist.is_main:
        pointer = ckpt.read_pointer(ckpt_dir)
        if pointer is not None and s.resume and pointer["run_key"] != run_key:
            logger.warning(
                "%s holds a checkpoint of another run (other settings, data or world size): starting afresh",
                ckpt_dir,
            )
        if pointer is not None and (not s.resume or pointer["run_key"] != run_key):
            for stale in (ckpt_dir, best_dir):
                shutil.rmtree(stale, ignore_errors=True)
        ckpt.discard_uncommitted(ckpt_dir)
    dist.barrier()
    pointer = ckpt.read_pointer(ckpt_dir)
    if pointer is not None:
        _, client = engine.load_checkpoint(str(ckpt_dir), tag=pointer["tag"])
        state = LoopState(**client["loop"])
        ckpt.set_rng_state(client["rng"][dist.rank])
        logger.info(
            "resumed from %s at step %d (epoch %d, batch %d)",
            pointer["tag"],
            state.step,
            state.epoch,
            state.batch,
        )
    metrics_csv = out_dir / "metrics.csv"
    history = ckpt_dir / pointer["tag"] / ckpt.METRICS_COPY if pointer is not None else None
    log = MetricsLog(metrics_csv, history, resume_step=state.step) if dist.is_main else None
    bar = tqdm(
        total=total, initial=state.step, desc="train", unit="step", disable=not (dist.is_main and s.progress)
    )

    start_step, started = state.step, time.perf_counter()
    # since the last log row: loss sum, micro-batches, molecules, tokens
    window = torch.zeros(4, dtype=torch.float64, device=dist.device)
    epoch_log = _EpochLog(dist)
    train_s = data_s = 0.0
    done = state.step >= total or state.stopped_early
    finished_invocation = False
    lr = engine.get_lr()[0]
    while not done:
        sampler.set_epoch(state.epoch, start=state.batch)
        tick = time.perf_counter()
        for batch in loader:
            data_s += time.perf_counter() - tick
            counts = [1, batch.batch_size, int(batch.token_mask.sum())]  # micro-batches, molecules, tokens
            batch = batch.to(dist.device)
            generator = batch_generator(s.seed, 0, state.epoch, state.batch * dist.world_size + dist.rank)
            with autocast(s.precision, dist.device):
                loss = loss_fn(module, batch, generator)
            lr = engine.get_lr()[0]
            engine.backward(loss)
            engine.step()
            state.batch += 1
            window += torch.cat([loss.detach().double()[None], window.new_tensor(counts)])
            epoch_log.add(loss)
            train_s += time.perf_counter() - tick
            tick = time.perf_counter()
            if state.batch % s.grad_accum:
                continue

            # ---- one optimizer step done ----
            state.step += 1
            bar.update()
            done = state.step >= total
            finished_invocation = (
                s.max_steps_this_invocation is not None
                and state.step - start_step >= s.max_steps_this_invocation
            )
            valid_loss = None
            if evaluate is not None and (state.step % eval_every == 0 or done):
                valid_loss = evaluate(module)
                epoch_log.valid_loss = valid_loss
                if s.selection == "best_valid":
                    if valid_loss < state.best_valid:
                        state.best_valid, state.best_step, state.bad_evals = valid_loss, state.step, 0
                        if dist.is_main:
                            save_pretrained(module, best_dir)
                    else:
                        state.bad_evals += 1
                    state.stopped_early = (
                        s.patience is not None and state.bad_evals >= s.patience and not done
                    )
                    done = done or state.stopped_early
            checkpoint_now = state.step % checkpoint_every == 0 or done or finished_invocation
            # a checkpoint also flushes the logging window, so a resumed run logs the same rows
            if state.step % s.log_every == 0 or valid_loss is not None or checkpoint_now:
                tdist.all_reduce(window)
                loss_sum, micro, molecules, tokens = window.tolist()
                row = {
                    "step": state.step,
                    "epoch": state.epoch + state.batch / len(sampler),
                    "loss": loss_sum / micro,
                    "lr": lr,
                    "molecules_per_s": molecules / train_s,
                    "tokens_per_s": tokens / train_s,
                    "data_fraction": data_s / train_s,
                    "peak_memory_mb": peak_memory_mb(dist.device),
                    "valid_loss": valid_loss,
                    "elapsed_s": time.perf_counter() - started,
                }
                window.zero_()
                train_s = data_s = 0.0
                if log is not None:
                    log.write(row)
                bar.set_postfix(loss=f"{row['loss']:.4f}", lr=f"{lr:.2e}")
            if checkpoint_now:
                _save_checkpoint(engine, ckpt_dir, state, run_key, dist, metrics_csv)
            tick = time.perf_counter()
            if done or finished_invocation:
                break
        else:
            epoch_log.emit(state, lr)
            state.epoch, state.batch = state.epoch + 1, 0
            continue
        epoch_log.emit(state, lr)
        if finished_invocation:
            break
    bar.close()
    if log is not None:
        log.close()
        plot_learning_curve(out_dir / "metrics.csv", out_dir / "learning_curve.png", title=out_dir.name)
    dist.barrier()
    finished = state.step >= total or state.stopped_early
    if finished and s.selection == "best_valid" and state.best_step is not None:
        module.load_state_dict(load_file(str(best_dir / WEIGHTS_NAME), device=str(dist.device)))
    if finished and not s.keep_checkpoints:
        dist.barrier()  # every rank has read best/ before it goes
        if dist.is_main:
            for folder in (ckpt_dir, best_dir):
                shutil.rmtree(folder, ignore_errors=True)
    best = state.best_valid if state.best_step is not None else None
    return TrainResult(state.step, finished, state.stopped_early, state.best_step, best)


class _EpochLog:
    """One log line per epoch (or per part of an epoch ended by a stop or a resume): mean train loss over all
    ranks, the last validation loss, learning rate and wall time, for a log a person reads."""

    def __init__(self, dist: Dist) -> None:
        self.dist = dist
        self._reset()

    def _reset(self) -> None:
        self.loss = torch.zeros(2, dtype=torch.float64, device=self.dist.device)  # loss sum, micro-batches
        self.valid_loss: float | None = None
        self.started = time.perf_counter()

    def add(self, loss: torch.Tensor) -> None:
        self.loss += torch.stack([loss.detach().double(), self.loss.new_tensor(1.0)])

    def emit(self, state: LoopState, lr: float) -> None:
        """Called by every rank at the same point (a collective sum)."""
        tdist.all_reduce(self.loss)
        loss_sum, micro = self.loss.tolist()
        if micro:
            valid = f"{self.valid_loss:.4f}" if self.valid_loss is not None else "-"
            logger.info(
                "epoch %d (step %d): train loss %.4f, valid loss %s, lr %.3g, %.1f s",
                state.epoch + 1,
                state.step,
                loss_sum / micro,
                valid,
                lr,
                time.perf_counter() - self.started,
            )
        self._reset()


def _save_checkpoint(
    engine, ckpt_dir: Path, state: LoopState, run_key: str, dist: Dist, metrics_csv: Path
) -> None:
    """Every rank writes its part of a new tag, rank 0 adds the metrics log so far; then rank 0 commits the
    pointer (see mumo.train.checkpoint)."""
    rng = [None] * dist.world_size
    tdist.all_gather_object(rng, ckpt.rng_state())
    tag = ckpt.tag_for(state.step)
    client = {"loop": dataclasses.asdict(state), "rng": rng}
    engine.save_checkpoint(str(ckpt_dir), tag=tag, client_state=client, save_latest=False)
    if dist.is_main:
        shutil.copyfile(metrics_csv, ckpt_dir / tag / ckpt.METRICS_COPY)
        ckpt.commit(ckpt_dir, tag, state.step, run_key)
    dist.barrier()
