"""The seeds of one (model, dataset, split) in one process: one start-up (imports, a queue wait on a cluster)
instead of one per seed.

Each seed runs exactly as a job of its own would (the training step seeds itself from the seed), into its own
folder `runs/{model}/{dataset}/{split}/seed{s}/`, and is scored there (`metrics.json`). `done.json`, written
last, holds the identity of what the seed was made from (settings, seed, the bytes of its input files, the
mumo version); a rerun of the group's job, after a kill, a failure or a change of the seeds, keeps every seed
whose identity is unchanged and trains the others (an interrupted MuMo seed resumes from its checkpoint).
Snakemake declares only the group's record, written after the last seed, so a failed job never makes it
delete a finished seed's files.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mumo import __version__
from mumo.data.sources import ResolvedDataset
from mumo.io import sha256sum, write_json
from mumo.steps.scores import evaluate_run

log = logging.getLogger(__name__)

DONE = "done.json"


@dataclass(frozen=True)
class SeedRun:
    """One seed of a group: its split file, its run folder and its own log file."""

    seed: int
    split_json: str
    run_dir: str
    log: str

    @property
    def predictions(self) -> str:
        return f"{self.run_dir}/predictions.csv"

    @property
    def metrics(self) -> str:
        return f"{self.run_dir}/metrics.json"

    @property
    def done(self) -> Path:
        return Path(self.run_dir) / DONE


def run_seeds(
    runs: list[SeedRun],
    *,
    identity: dict[str, Any],
    inputs: list[str],
    dataset: ResolvedDataset,
    run: dict[str, str],
    train: Callable[[SeedRun], None],
    out_record: str,
    record_failures: bool = False,
) -> None:
    """Train (`train` writes the seed's predictions.csv) and score every seed not already finished from the
    same identity, in order; then write the group's record `out_record`.

    `identity` (settings and options), the dataset's tasks and task type and the bytes of `inputs` (the files
    every seed reads besides its split) say what a finished seed was made from; `run` is the group's model,
    dataset and split. A failing seed stops the job, unless `record_failures` (the baselines): then the other
    seeds go on, the record lists the failed seed and its reason beside the finished seeds' metrics, and the
    table counts the finished ones (n_seeds); a job whose every seed failed still fails. A MemoryError always
    stops the job, so that a cluster's retry gets more memory."""
    made_from = {
        **identity,
        "tasks": list(dataset.tasks),
        "task_type": dataset.spec.task_type,
        "mumo": __version__,
    }
    common = _file_digest(json.dumps(made_from, sort_keys=True, default=str), inputs)
    kept, failed = [], []
    for position, seed_run in enumerate(runs, start=1):
        key = _file_digest(f"{common}|seed={seed_run.seed}", [seed_run.split_json])
        if _finished(seed_run, key):
            kept.append(seed_run.seed)
            log.info("seed %d: finished earlier from the same inputs and settings, kept", seed_run.seed)
            continue
        try:
            _run_seed(seed_run, dataset, run, train, f"{position} of {len(runs)}")
        except Exception as err:
            if not record_failures or isinstance(err, MemoryError):
                raise
            failed.append({"seed": seed_run.seed, "reason": f"{type(err).__name__}: {err}"})
            continue
        write_json({"seed": seed_run.seed, "key": key}, seed_run.done)
    log.info(
        "%d seed(s) trained, %d kept from an earlier run, %d failed",
        len(runs) - len(kept) - len(failed),
        len(kept),
        len(failed),
    )
    if failed and len(failed) == len(runs):
        raise RuntimeError(f"{run['model']} on {run['dataset']}/{run['split']}: every seed failed: {failed}")
    finished = [r for r in runs if r.seed not in {f["seed"] for f in failed}]
    record = {
        **run,
        "seeds": [r.seed for r in finished],
        "metrics": [str(Path(r.metrics).relative_to(Path(out_record).parent)) for r in finished],
        "failed": failed,
    }
    write_json(record, out_record)


def _run_seed(
    seed_run: SeedRun,
    dataset: ResolvedDataset,
    run: dict[str, str],
    train: Callable[[SeedRun], None],
    position: str,
) -> None:
    """Train and score one seed (`position`: "2 of 3" in its job), its earlier files removed first (done.json
    last, by the caller)."""
    for stale in (seed_run.done, Path(seed_run.predictions), Path(seed_run.metrics)):
        stale.unlink(missing_ok=True)
    with _seed_log(seed_run.log, seed_run.seed):
        log.info("seed %d (%s): training in %s", seed_run.seed, position, seed_run.run_dir)
        train(seed_run)
        if not Path(seed_run.predictions).exists():
            raise RuntimeError(
                f"{seed_run.run_dir}: seed {seed_run.seed} stopped before the end of its training "
                "(its checkpoint is kept); run the job again to resume it"
            )
        evaluate_run(
            predictions_csv=seed_run.predictions,
            split_json=seed_run.split_json,
            dataset=dataset,
            run={**run, "seed": seed_run.seed},
            out_json=seed_run.metrics,
        )


def _finished(seed_run: SeedRun, key: str) -> bool:
    if not (
        seed_run.done.exists() and Path(seed_run.metrics).exists() and Path(seed_run.predictions).exists()
    ):
        return False
    return json.loads(seed_run.done.read_text()).get("key") == key


def _file_digest(head: str, paths: list[str]) -> str:
    """`head` and the files' bytes (through their SHA-256), as 16 hex digits."""
    return hashlib.sha256("|".join([head, *map(sha256sum, paths)]).encode()).hexdigest()[:16]


@contextmanager
def _seed_log(path: str, seed: int) -> Iterator[None]:
    """What a seed says also goes to its own log file (the job's log has every seed)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, mode="a")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield
    except BaseException as err:
        log.exception("seed %d failed: %s: %s", seed, type(err).__name__, err)
        raise
    finally:
        root.removeHandler(handler)
        handler.close()
