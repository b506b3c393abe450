"""Chemprop (D-MPNN): the graph network chemists compare a new molecular model against.

Trained through Chemprop v2's own Python API (its featuriser, datasets, bond message passing, aggregation,
FFN heads and Lightning training loop), not a re-implementation. Missing labels are NaN targets, which
Chemprop masks in its loss; regression targets are standardised on the training fold and the model's output
transform maps predictions back to label units; classification predicts P(class 1). The checkpoint kept is
the one of lowest validation loss (Chemprop's own `val_loss`), never chosen on the test fold.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from mumo.data.registry import CLASSIFICATION

log = logging.getLogger(__name__)

AGGREGATIONS = ("mean", "sum", "norm")


@dataclass(frozen=True)
class ChempropSettings:
    """The config's `chemprop:` block. Names are Chemprop's own (its CLI's), so its docs apply."""

    epochs: int = 30
    batch_size: int = 50
    message_hidden_dim: int = 300
    depth: int = 3
    dropout: float = 0.0
    aggregation: str = "mean"
    batch_norm: bool = False
    ffn_hidden_dim: int = 300
    ffn_num_layers: int = 1
    warmup_epochs: int = 2
    init_lr: float = 1e-4
    max_lr: float = 1e-3
    final_lr: float = 1e-4
    #: epochs without a lower validation loss before training stops; null: train every epoch
    patience: int | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> ChempropSettings:
        """Settings from a config mapping; a bad value raises ValueError naming the key."""
        data = dict(data or {})
        valid = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(data) - set(valid))
        if unknown:
            raise ValueError(f"unknown setting(s) {unknown}; valid settings: {', '.join(valid)}")
        for name, value in data.items():
            problem = _problem(name, value)
            if problem:
                raise ValueError(f"setting {name} must be {problem}, got {value!r}")
        settings = cls(**{name: float(v) if name in _FLOATS else v for name, v in data.items()})
        if settings.warmup_epochs >= settings.epochs:
            raise ValueError(
                f"setting warmup_epochs ({settings.warmup_epochs}) must be below epochs ({settings.epochs}): "
                "Chemprop's learning rate decays over the epochs after the warm-up"
            )
        return settings

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_POSITIVE_INTS = {"epochs", "batch_size", "message_hidden_dim", "depth", "ffn_hidden_dim", "ffn_num_layers"}
_FLOATS = {"dropout", "init_lr", "max_lr", "final_lr"}


def _problem(name: str, value: Any) -> str | None:
    """What `value` of setting `name` should have been, or None when it is fine."""
    is_int = isinstance(value, int) and not isinstance(value, bool)
    is_number = (is_int or isinstance(value, float)) and math.isfinite(value)
    if name in _POSITIVE_INTS:
        return None if is_int and value >= 1 else "an integer >= 1"
    if name == "warmup_epochs":
        return None if is_int and value >= 0 else "an integer >= 0"
    if name == "patience":
        return None if value is None or (is_int and value >= 1) else "an integer >= 1 or null"
    if name == "dropout":
        return None if is_number and 0 <= value < 1 else "a number in [0, 1)"
    if name in _FLOATS:
        return None if is_number and value > 0 else "a finite number > 0"
    if name == "batch_norm":
        return None if isinstance(value, bool) else "true or false"
    return None if value in AGGREGATIONS else f"one of {', '.join(AGGREGATIONS)}"


def fit_predict(
    smiles: list[str],
    labels: np.ndarray,
    folds: dict[str, np.ndarray],
    task_type: str,
    *,
    seed: int,
    settings: ChempropSettings | None = None,
    threads: int = 1,
) -> np.ndarray:
    """Train on rows `folds["train"]`, select on `folds["valid"]` and predict rows `folds["predict"]`:
    [len(predict), T] predictions of the task columns of `labels` [n, T] (NaN = unlabelled).

    Without validation rows (a valid fraction of 0) the last epoch's model predicts. A task without a
    labelled training row predicts NaN, as the other baselines do."""
    from lightning import pytorch as pl

    settings = settings or ChempropSettings()
    with (
        _torch_settings(threads),
        _quiet_lightning(),
        tempfile.TemporaryDirectory(prefix="mumo-chemprop-") as checkpoints,
    ):
        pl.seed_everything(seed, workers=True, verbose=False)
        datasets = _datasets(smiles, labels, folds, task_type)
        model = _model(settings, task_type, labels.shape[1], datasets["scaler"])
        predictions = _train_and_predict(model, datasets, settings, seed, checkpoints)
    predictions[:, np.isnan(labels[folds["train"]]).all(axis=0)] = np.nan
    return predictions


@contextmanager
def _torch_settings(threads: int) -> Iterator[None]:
    """`threads` torch threads while Chemprop trains; then the caller's thread count and deterministic-algorithms
    flag (which Lightning's `deterministic=True` sets for the whole process) come back."""
    import torch

    threads_before, deterministic_before = (
        torch.get_num_threads(),
        torch.are_deterministic_algorithms_enabled(),
    )
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(threads_before)
        torch.use_deterministic_algorithms(deterministic_before)


@contextmanager
def _quiet_lightning() -> Iterator[None]:
    """Lightning's start-up notes (no GPU, tips) and its advice (dataloader workers, `srun`) stay out of the job's
    log: graphs are built in the main process on purpose (deterministic, no worker seeding), in one process."""
    loggers = [logging.getLogger(name) for name in ("lightning.pytorch", "lightning.fabric")]
    levels = [logger.level for logger in loggers]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        warnings.filterwarnings("ignore", message=".*no `val_dataloader`.*")  # no valid rows: logged by us
        warnings.filterwarnings("ignore", message=".*`srun` command is available.*")  # one process, by design
        warnings.filterwarnings("ignore", message=".*isinstance\\(treespec, LeafSpec\\).*")
        for logger in loggers:
            logger.setLevel(logging.WARNING)
        try:
            yield
        finally:
            for logger, level in zip(loggers, levels, strict=True):
                logger.setLevel(level)


def _datasets(
    smiles: list[str], labels: np.ndarray, folds: dict[str, np.ndarray], task_type: str
) -> dict[str, Any]:
    """Chemprop datasets of the folds, featurised by its default molecule featuriser; regression targets
    standardised with the training fold's scaler (`scaler`, None for classification)."""
    from chemprop import data, featurizers

    featurizer = featurizers.SimpleMoleculeMolGraphFeaturizer()
    out: dict[str, Any] = {}
    for fold, rows in folds.items():
        points = [data.MoleculeDatapoint.from_smi(smiles[i], labels[i]) for i in rows]
        out[fold] = data.MoleculeDataset(points, featurizer)
        out[fold].cache = True  # featurised once, not once per epoch (as Chemprop's CLI does)
    out["scaler"] = None
    if task_type != CLASSIFICATION:
        out["scaler"] = out["train"].normalize_targets()
        if len(out["valid"]):
            out["valid"].normalize_targets(out["scaler"])
    return out


def _model(settings: ChempropSettings, task_type: str, n_tasks: int, scaler: Any) -> Any:
    from chemprop import models, nn

    message_passing = nn.BondMessagePassing(
        d_h=settings.message_hidden_dim, depth=settings.depth, dropout=settings.dropout
    )
    aggregation = {"mean": nn.MeanAggregation, "sum": nn.SumAggregation, "norm": nn.NormAggregation}
    head = dict(
        n_tasks=n_tasks,
        input_dim=message_passing.output_dim,
        hidden_dim=settings.ffn_hidden_dim,
        n_layers=settings.ffn_num_layers,
        dropout=settings.dropout,
    )
    if task_type == CLASSIFICATION:
        predictor = nn.BinaryClassificationFFN(**head)
    else:
        transform = nn.UnscaleTransform.from_standard_scaler(scaler)
        predictor = nn.RegressionFFN(**head, output_transform=transform)
    return models.MPNN(
        message_passing,
        aggregation[settings.aggregation](),
        predictor,
        batch_norm=settings.batch_norm,
        warmup_epochs=settings.warmup_epochs,
        init_lr=settings.init_lr,
        max_lr=settings.max_lr,
        final_lr=settings.final_lr,
    )


def _train_and_predict(
    model: Any, datasets: dict[str, Any], settings: ChempropSettings, seed: int, checkpoints: str
) -> np.ndarray:
    """Lightning on the CPU, deterministic, without logger files or progress bars; the checkpoint of lowest
    validation loss (written under `checkpoints`, a temporary folder) predicts."""
    import torch
    from chemprop import data
    from lightning import pytorch as pl
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
    from lightning.pytorch.plugins.environments import LightningEnvironment

    validated = len(datasets["valid"]) > 0
    callbacks = []
    if validated:
        best = ModelCheckpoint(dirpath=checkpoints, monitor="val_loss", mode="min", save_top_k=1)
        callbacks.append(best)
        if settings.patience is not None:
            callbacks.append(EarlyStopping(monitor="val_loss", mode="min", patience=settings.patience))
    else:
        log.warning("no validation rows: Chemprop's last epoch predicts (no checkpoint selection)")
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=1,
        max_epochs=settings.epochs,
        deterministic=True,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=validated,
        callbacks=callbacks,
        default_root_dir=checkpoints,
        # one process, whatever launched it: inside a SLURM job Lightning would otherwise take the job's tasks
        # for its own processes
        plugins=[LightningEnvironment()],
    )
    loader = {
        # only training may drop a last batch of one molecule (Chemprop's guard for batch norm)
        fold: data.build_dataloader(
            datasets[fold],
            batch_size=settings.batch_size,
            seed=seed,
            shuffle=fold == "train",
            drop_last=None if fold == "train" else False,
        )
        for fold in ("train", "valid", "predict")
        if fold == "train" or len(datasets[fold])
    }
    trainer.fit(model, loader["train"], loader.get("valid"))
    if validated:
        log.info(
            "Chemprop: best validation loss %.4f (of %d epochs)", best.best_model_score, trainer.current_epoch
        )
    if "predict" not in loader:
        return np.empty((0, model.n_tasks))
    # the checkpoint is this run's own file in a private temporary folder: trusted to unpickle
    batches = trainer.predict(
        model, loader["predict"], ckpt_path=best.best_model_path if validated else None, weights_only=False
    )
    predictions = torch.cat(batches).float().numpy()
    # a classifier's head gives [n, tasks] probabilities of class 1; a regressor's [n, tasks] label units
    return predictions.reshape(len(datasets["predict"]), -1).astype(float)
