"""The training engine: DeepSpeed (client AdamW, LambdaLR warm-up + decay, ZeRO 0/2) in one readable loop.

The same code runs as one CPU process (it makes its own one-process group), as N CPU processes under
`torchrun` (gloo) and as N GPU processes on a node (nccl). One optimizer step is `batch_size` molecules ×
`grad_accum` micro-batches × world size; N processes × accumulation k and 1 process × accumulation N·k take
the same optimizer steps over the same batches (see `LengthBatchSampler`).

Precision: fp32 weights always, forward and loss under `mumo.model.precision.autocast`.
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
from typing import TypedDict, Unpack

import numpy as np
import torch
import torch.distributed as tdist
from torch.optim.lr_scheduler import LambdaLR
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from mumo.model import MuMo
from mumo.model.batch import MolBatch
from mumo.model.compile import maybe_compile
from mumo.model.precision import autocast
from mumo.model.saved import load_weights, save_pretrained
from mumo.train import resume as ckpt
from mumo.train.data import LengthBatchSampler, MoleculeDataset, batch_generator, eval_batches
from mumo.train.settings import TrainSettings
from mumo.train.training_log import TRAINING_LOG, TrainingLog, find_training_log, plot_learning_curve

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


class TrainJob(TypedDict):
    """What a training run needs besides the model, its data and its loss (`train`'s keyword arguments)."""

    evaluate: Callable[[MuMo], float] | None  # validation loss, or None for no validation
    settings: TrainSettings
    out_dir: str | Path
    dist: Dist
    run_key: str  # the settings, inputs and world size: a checkpoint of another run is not resumed


def train(model: MuMo, train_set: MoleculeDataset, loss_fn: LossFn, **job: Unpack[TrainJob]) -> TrainResult:
    """Train `model` in place; on return it holds the selected weights (last, or best validation loss).

    Writes `out_dir/training_log.csv`, `learning_curve.png`, `checkpoints/` and, with selection best_valid,
    `best/` (save_pretrained). Resumes from `checkpoints/` when it holds a checkpoint with this `run_key`
    (the settings, inputs and world size); a checkpoint of another run is deleted, with a warning. Once the
    run is finished, both folders are deleted (the caller saves the selected weights once, as `model/`)
    unless `keep_checkpoints`. Logs one line per epoch: train loss, validation loss, learning rate, time.
    """
    return Trainer(model, train_set, loss_fn, **job).run()


class Trainer:
    """One call of `train`, in the order it happens: set-up (data, optimizer, schedule, DeepSpeed) in the
    constructor, then `run`: resume, the loop of optimizer steps (each maybe evaluating, logging and
    checkpointing), finish. Every rank runs the same calls, so the collectives inside line up."""

    def __init__(
        self, model: MuMo, train_set: MoleculeDataset, loss_fn: LossFn, **job: Unpack[TrainJob]
    ) -> None:
        import deepspeed

        s = self.settings = job["settings"]
        dist = self.dist = job["dist"]
        self.loss_fn, self.evaluate = loss_fn, job["evaluate"]
        self.out_dir = Path(job["out_dir"])
        self.ckpt_dir, self.best_dir = self.out_dir / "checkpoints", self.out_dir / "best"
        self.run_key = f"{job['run_key']}|world_size={dist.world_size}"
        self.sampler = LengthBatchSampler(
            train_set.lengths,
            s.batch_size,
            s.seed,
            dist.rank,
            dist.world_size,
            multiple_of=s.grad_accum,
            by_length=not model.config.random_batch_order,
        )
        steps_per_epoch = len(self.sampler) // s.grad_accum
        self.total = (
            s.epochs * steps_per_epoch
            if s.max_steps is None
            else min(s.max_steps, s.epochs * steps_per_epoch)
        )
        self.eval_every = s.eval_every or steps_per_epoch
        self.checkpoint_every = s.checkpoint_every or steps_per_epoch
        self.loader = DataLoader(
            train_set,
            batch_sampler=self.sampler,
            collate_fn=train_set.collate,
            num_workers=s.num_workers,
            persistent_workers=s.num_workers > 0,
        )
        maybe_compile(model, s.compile)  # in place: the encoder and head compiled over bucketed shapes
        optimizer = torch.optim.AdamW(
            model.parameters(), lr=s.lr, betas=s.betas, eps=s.eps, weight_decay=s.weight_decay
        )
        self.engine, *_ = deepspeed.initialize(
            model=model,
            optimizer=optimizer,
            lr_scheduler=lambda opt: LambdaLR(opt, lr_lambda(s.schedule, s.warmup_steps, self.total)),
            config=deepspeed_config(s),
            dist_init_required=False,
        )
        self.module: MuMo = self.engine.module
        self.state = LoopState()

    def run(self) -> TrainResult:
        pointer = self.resume()
        self.open_log(pointer)
        if not (self.state.step >= self.total or self.state.stopped_early):
            while not self.epoch():
                pass
        return self.finish()

    # ---- set-up ----------------------------------------------------------------------------------

    def resume(self) -> dict | None:
        """Rank 0 drops a checkpoint of another run (or every checkpoint without `resume`) and the leftovers of
        a killed save; then every rank loads the committed checkpoint, if any. Returns its pointer."""
        if self.dist.is_main:
            pointer = ckpt.read_pointer(self.ckpt_dir)
            other_run = pointer is not None and pointer["run_key"] != self.run_key
            if other_run and self.settings.resume:
                logger.warning(
                    "%s holds a checkpoint of another run (other settings, data or world size): starting afresh",
                    self.ckpt_dir,
                )
            if pointer is not None and (not self.settings.resume or other_run):
                for stale in (self.ckpt_dir, self.best_dir):
                    shutil.rmtree(stale, ignore_errors=True)
            ckpt.discard_uncommitted(self.ckpt_dir)
        self.dist.barrier()
        pointer = ckpt.read_pointer(self.ckpt_dir)
        if pointer is not None:
            _, client = self.engine.load_checkpoint(str(self.ckpt_dir), tag=pointer["tag"])
            self.state = LoopState(**client["loop"])
            ckpt.set_rng_state(client["rng"][self.dist.rank])
            logger.info(
                "resumed from %s at step %d (epoch %d, batch %d)",
                pointer["tag"],
                self.state.step,
                self.state.epoch,
                self.state.batch,
            )
        return pointer

    def open_log(self, pointer: dict | None) -> None:
        """The training log (rank 0; a resumed run continues the log saved with its checkpoint, under its old
        name in a checkpoint written before the rename), the progress bar and the counters of the loop."""
        self.training_log = self.out_dir / TRAINING_LOG
        history = (
            find_training_log(self.ckpt_dir / pointer["tag"] / TRAINING_LOG) if pointer is not None else None
        )
        self.log = (
            TrainingLog(self.training_log, history, resume_step=self.state.step)
            if self.dist.is_main
            else None
        )
        self.bar = tqdm(
            total=self.total,
            initial=self.state.step,
            desc="train",
            unit="step",
            disable=not (self.dist.is_main and self.settings.progress),
        )
        self.start_step, self.started = self.state.step, time.perf_counter()
        self.window = _Window(self.dist)
        self.epoch_log = _EpochLog(self.dist)
        self.lr = self.engine.get_lr()[0]

    # ---- the loop --------------------------------------------------------------------------------

    def epoch(self) -> bool:
        """Run the current epoch from where it stands; True when the run stops within it (done, stopped
        early, or `max_steps_this_invocation` reached)."""
        state = self.state
        self.sampler.set_epoch(state.epoch, start=state.batch)
        tick = time.perf_counter()
        for batch in self.loader:
            self.window.data_s += time.perf_counter() - tick
            self.micro_step(batch)
            self.window.train_s += time.perf_counter() - tick
            tick = time.perf_counter()
            if state.batch % self.settings.grad_accum:
                continue
            stop = self.optimizer_step()
            tick = time.perf_counter()
            if stop:
                self.epoch_log.emit(state, self.lr)
                return True
        self.epoch_log.emit(state, self.lr)
        state.epoch, state.batch = state.epoch + 1, 0
        return False

    def micro_step(self, batch: MolBatch) -> None:
        """Forward, backward and DeepSpeed's step (which steps the optimizer after the last micro-batch)."""
        s, state, dist = self.settings, self.state, self.dist
        counts = [1, batch.batch_size, int(batch.token_mask.sum())]  # micro-batches, molecules, tokens
        batch = batch.to(dist.device)
        generator = batch_generator(s.seed, 0, state.epoch, state.batch * dist.world_size + dist.rank)
        with autocast(s.precision, dist.device):
            loss = self.loss_fn(self.module, batch, generator)
        self.lr = self.engine.get_lr()[0]
        self.engine.backward(loss)
        self.engine.step()
        state.batch += 1
        self.window.add(loss, counts)
        self.epoch_log.add(loss)

    def optimizer_step(self) -> bool:
        """After an optimizer step: evaluate, log a training log row and checkpoint when due; True to stop here."""
        s, state = self.settings, self.state
        state.step += 1
        self.bar.update()
        done = state.step >= self.total
        paused = (
            s.max_steps_this_invocation is not None
            and state.step - self.start_step >= s.max_steps_this_invocation
        )
        valid_loss = None
        if self.evaluate is not None and (state.step % self.eval_every == 0 or done):
            valid_loss = self.evaluate_and_select(done)
            done = done or state.stopped_early
        checkpoint_now = state.step % self.checkpoint_every == 0 or done or paused
        # a checkpoint also flushes the logging window, so a resumed run logs the same rows
        if state.step % s.log_every == 0 or valid_loss is not None or checkpoint_now:
            self.log_row(valid_loss)
        if checkpoint_now:
            self.save_checkpoint()
        return done or paused

    # ---- evaluation, logging, checkpoints ---------------------------------------------------------

    def evaluate_and_select(self, done: bool) -> float:
        """The validation loss; under selection best_valid, a better one saves `best/`, and `patience`
        evaluations without one stop the run early (unless it is done anyway)."""
        s, state = self.settings, self.state
        valid_loss = self.evaluate(self.module)
        self.epoch_log.valid_loss = valid_loss
        if s.selection == "best_valid":
            if valid_loss < state.best_valid:
                state.best_valid, state.best_step, state.bad_evals = valid_loss, state.step, 0
                if self.dist.is_main:
                    save_pretrained(self.module, self.best_dir)
            else:
                state.bad_evals += 1
            state.stopped_early = s.patience is not None and state.bad_evals >= s.patience and not done
        return valid_loss

    def log_row(self, valid_loss: float | None) -> None:
        """One training log row over the steps since the last one (all ranks: a collective sum)."""
        loss, molecules_per_s, tokens_per_s, data_fraction = self.window.flush()
        row = {
            "step": self.state.step,
            "epoch": self.state.epoch + self.state.batch / len(self.sampler),
            "loss": loss,
            "lr": self.lr,
            "molecules_per_s": molecules_per_s,
            "tokens_per_s": tokens_per_s,
            "data_fraction": data_fraction,
            "peak_memory_mb": peak_memory_mb(self.dist.device),
            "valid_loss": valid_loss,
            "elapsed_s": time.perf_counter() - self.started,
        }
        if self.log is not None:
            self.log.write(row)
        self.bar.set_postfix(loss=f"{row['loss']:.4f}", lr=f"{self.lr:.2e}")

    def save_checkpoint(self) -> None:
        """Every rank writes its part of a new tag, rank 0 adds the training log so far; then rank 0 commits the
        pointer (see mumo.train.resume)."""
        dist, state = self.dist, self.state
        rng = [None] * dist.world_size
        tdist.all_gather_object(rng, ckpt.rng_state())
        tag = ckpt.tag_for(state.step)
        client = {"loop": dataclasses.asdict(state), "rng": rng}
        self.engine.save_checkpoint(str(self.ckpt_dir), tag=tag, client_state=client, save_latest=False)
        if dist.is_main:
            shutil.copyfile(self.training_log, self.ckpt_dir / tag / TRAINING_LOG)
            ckpt.commit(self.ckpt_dir, tag, state.step, self.run_key)
        dist.barrier()

    # ---- finish ------------------------------------------------------------------------------------

    def finish(self) -> TrainResult:
        """Close the log and plot it; once the run is finished, load the selected weights and delete the
        checkpoints (unless `keep_checkpoints`)."""
        s, state, dist = self.settings, self.state, self.dist
        self.bar.close()
        if self.log is not None:
            self.log.close()
            plot_learning_curve(
                self.training_log, self.out_dir / "learning_curve.png", title=self.out_dir.name
            )
        dist.barrier()
        finished = state.step >= self.total or state.stopped_early
        if finished and s.selection == "best_valid" and state.best_step is not None:
            load_weights(self.module, self.best_dir)
        if finished and not s.keep_checkpoints:
            dist.barrier()  # every rank has read best/ before it goes
            if dist.is_main:
                for folder in (self.ckpt_dir, self.best_dir):
                    shutil.rmtree(folder, ignore_errors=True)
        best = state.best_valid if state.best_step is not None else None
        return TrainResult(state.step, finished, state.stopped_early, state.best_step, best)


class _Window:
    """What the micro-batches since the last training log row did: loss sum, micro-batches, molecules and tokens
    (summed over ranks when flushed), and this rank's time in training and in waiting for data."""

    def __init__(self, dist: Dist) -> None:
        self.sums = torch.zeros(4, dtype=torch.float64, device=dist.device)
        self.train_s = self.data_s = 0.0

    def add(self, loss: torch.Tensor, counts: list[int]) -> None:
        self.sums += torch.cat([loss.detach().double()[None], self.sums.new_tensor(counts)])

    def flush(self) -> tuple[float, float, float, float]:
        """(mean loss per micro-batch, molecules/s, tokens/s, data fraction), then start a new window."""
        tdist.all_reduce(self.sums)
        loss_sum, micro, molecules, tokens = self.sums.tolist()
        rates = (
            loss_sum / micro,
            molecules / self.train_s,
            tokens / self.train_s,
            self.data_s / self.train_s,
        )
        self.sums.zero_()
        self.train_s = self.data_s = 0.0
        return rates


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
