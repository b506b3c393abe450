"""What a config costs to train: every training job of its plan, sized from the registry's row counts and the
recipes, priced with a throughput table measured per preset, batch size, precision and device.

A job's molecule-passes are its training passes (epochs × the molecules its optimizer steps consume) and its
forward-only passes (validation during training, then predicting the valid and test folds once). Time =
training passes / throughput + forward passes / (throughput / FORWARD_SHARE) + a fixed start-up per process
(a finetune job's seeds share one).
Estimates, not measurements: see README "What the paper configuration costs" for the method and its limits.
"""

from __future__ import annotations

import csv
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import NamedTuple

from mumo.catalog import get_model
from mumo.data.splits import TDC_TRAIN_VALID_FRACTIONS, _sizes
from mumo.plan import AUTHORS, SCHEMA, Plan

THROUGHPUT_CSV = Path(__file__).resolve().parents[1] / "data" / "throughput.csv"
THROUGHPUT_COLUMNS = ("preset", "device", "batch_size", "precision", "molecules_per_s", "source")

#: A forward pass (validation, prediction) costs about a third of a training step (forward + backward ≈ 3
#: forwards in FLOP; the `small` model on CPU measured 13.4 against 42.8 ms per molecule, train-cpu.md).
FORWARD_SHARE = 1 / 3
#: Fixed cost of one training process (imports, model build, DeepSpeed init, final checkpoint): ~5 CPU-s
#: measured on CPU (train-cpu.md), ~10 s with queueing and CUDA context creation (issue #15).
STARTUP_S = 10.0
#: TDC benchmark groups keep 20 % of each task as the fixed test set (train_val = 80 %).
TDC_TRAIN_VAL = 0.8
#: Devices priced from another device's rows: (measured device, factor on molecules/s, why).
SCALED_DEVICES = {
    "a100": (
        "h100",
        312 / 989,
        "H100 rows × 312/989: NVIDIA's published dense bf16 tensor-core peaks, A100 SXM 312 and H100 SXM "
        "989 TFLOP/s. A peak ratio, not a measurement: an overhead-bound model loses less than this",
    )
}


#: The widths that set a step's cost: presets equal in these (paper and fixed) share their measured rates.
WIDTH_FIELDS = ("hidden_size", "n_seq_layers", "n_fusion_layers", "n_heads", "d_inner", "dt_rank", "d_state")


def same_widths(preset: str) -> list[str]:
    """`preset` first, then the other presets of equal widths (quirks do not change the step's cost much)."""
    from mumo.model.config import PRESETS

    widths = lambda name: [getattr(PRESETS[name], f) for f in WIDTH_FIELDS]  # noqa: E731
    return [preset, *(p for p in PRESETS if p != preset and widths(p) == widths(preset))]


class CostError(ValueError):
    """A device, preset or throughput file the cost model cannot price; the message names it."""


@dataclass(frozen=True, kw_only=True)
class Job:
    """One training process of the plan, sized."""

    rule: str  # pretrain | finetune | baseline (mean, ECFP+RF, Chemprop: on CPU, counted, not priced)
    model: str
    dataset: str
    split: str | None
    seed: int | None
    preset: str | None
    precision: str | None
    batch_size: int  # molecules per micro-batch per process
    grad_accum: int
    processes: int
    epochs: int
    train: int
    valid: int
    test: int
    steps: int  # optimizer steps
    train_passes: int
    forward_passes: int
    startups: int  # processes it starts: a finetune's seeds share their job's one (mumo.steps.seeds)

    @property
    def workflow_job(self) -> tuple[str, str, str, str | None]:
        """The Snakemake job that runs it: one per (rule, model, dataset, split), its seeds one after another."""
        return self.rule, self.model, self.dataset, self.split


@dataclass(frozen=True)
class Rate:
    molecules_per_s: float
    row: dict  # the table row it came from
    extrapolated: bool  # no row at this batch size and precision: the nearest measured one


def load_config(path: str | Path) -> dict:
    """A config file validated, defaults filled in, as the Snakefile sees it."""
    import yaml
    from snakemake.utils import validate

    config = yaml.safe_load(Path(path).read_text())
    validate(config, str(SCHEMA))
    return config


def dataset_rows(plan: Plan, dataset: str) -> int:
    """Molecules of a dataset: the registry's count, or the data rows of a custom CSV."""
    resolved = plan.datasets[dataset].resolved
    if resolved.path is not None:
        with open(resolved.path, newline="") as handle:
            return sum(1 for _ in csv.reader(handle)) - 1
    if resolved.spec.rows is None:
        raise CostError(f"datasets.{dataset}: the registry has no row count for it (DatasetSpec.rows)")
    return resolved.spec.rows


def fold_sizes(rows: int, split: str, fractions: list[float], tdc: bool) -> tuple[int, int, int]:
    """(train, valid, test) molecules of a split. TDC (its own split, and the authors' files of a TDC task,
    assumed alike): 80 % train_val, 7/8 of it to train; otherwise the split fractions."""
    if tdc and split in ("tdc", AUTHORS):
        train_val = round(rows * TDC_TRAIN_VAL)
        train, valid, _ = _sizes(train_val, TDC_TRAIN_VALID_FRACTIONS)
        return train, train_val - train, rows - train_val
    return _sizes(rows, fractions)


def steps_per_epoch(molecules: int, batch_size: int, grad_accum: int, processes: int) -> int:
    """Optimizer steps per epoch, as mumo.train.data.LengthBatchSampler cuts the batches."""
    batches = -(-molecules // batch_size)
    return batches // (grad_accum * processes)


class JobKey(NamedTuple):
    """Which training process a Job is: its rule and what it trains (a pretraining has no split or seed)."""

    rule: str
    model: str
    dataset: str
    split: str | None = None
    seed: int | None = None


def size_job(
    key: JobKey, settings: dict, folds: tuple[int, int, int], *, processes: int = 1, predicts: bool = True
) -> Job:
    """Steps and passes of one training run of `settings` (a model_settings dict, schema defaults filled)."""
    from mumo.train.settings import TrainSettings

    s = TrainSettings.from_dict(settings)
    train, valid, test = folds
    per_epoch = steps_per_epoch(train, s.batch_size, s.grad_accum, processes)
    total = s.epochs * per_epoch if s.max_steps is None else min(s.max_steps, s.epochs * per_epoch)
    eval_every = s.eval_every or per_epoch
    evaluations = -(-total // eval_every) if valid and eval_every else 0
    # every micro-batch but an epoch's last is full: the steps consume at most the training fold
    passes = min(total * s.batch_size * s.grad_accum * processes, s.epochs * train)
    forward = evaluations * valid + ((valid + test) if predicts else 0)
    return Job(
        **key._asdict(),
        preset=s.preset,
        precision=s.precision,
        batch_size=s.batch_size,
        grad_accum=s.grad_accum,
        processes=processes,
        epochs=s.epochs,
        train=train,
        valid=valid,
        test=test,
        steps=total,
        train_passes=passes,
        forward_passes=forward,
        startups=processes,
    )


def baseline_job(key: JobKey, folds: tuple[int, int, int]) -> Job:
    """A baseline fit (on CPU: counted, not priced): its folds, and no training steps or passes."""
    train, valid, test = folds
    return Job(
        **key._asdict(),
        preset=None,
        precision=None,
        batch_size=0,
        grad_accum=0,
        processes=1,
        epochs=0,
        train=train,
        valid=valid,
        test=test,
        steps=0,
        train_passes=0,
        forward_passes=0,
        startups=0,
    )


def jobs(plan: Plan, gpus: int = 1) -> list[Job]:
    """Every training job of the plan: one pretraining per pretrained model (on `gpus` processes, DDP), one
    finetune (or baseline fit) per (model, dataset, split, seed) of Plan.runs(). The seeds of a (model,
    dataset, split) train one after the other in one Snakemake job: only the first pays the start-up."""
    from mumo.train.settings import TrainSettings

    out = []
    corpus = plan.config["mumo"]["corpus"]
    for model in plan.pretrained_models():
        settings = plan.model_settings(model, "pretrain")
        available = plan.corpus().spec.rows
        n = min(corpus["n_molecules"], available) if corpus["n_molecules"] else available
        valid = round(n * TrainSettings.from_dict(settings).valid_fraction)
        folds = (n - valid, valid, 0)
        out.append(
            size_job(
                JobKey("pretrain", model, corpus["dataset"]), settings, folds, processes=gpus, predicts=False
            )
        )
    fractions = plan.config["split_fractions"]
    started: set[tuple] = set()
    for model, dataset, split, seed in plan.runs():
        d = plan.datasets[dataset]
        folds = fold_sizes(dataset_rows(plan, dataset), split, fractions, d.spec.benchmark == "TDC")
        if get_model(model).kind != "mumo":
            out.append(baseline_job(JobKey("baseline", model, dataset, split, seed), folds))
            continue
        settings = plan.model_settings(model, "finetune", dataset)
        job = size_job(JobKey("finetune", model, dataset, split, seed), settings, folds)
        out.append(job if job.workflow_job not in started else replace(job, startups=0))
        started.add(job.workflow_job)
    return out


class ThroughputTable:
    """Training molecules/s per GPU (or CPU process) by preset, device, batch size and precision."""

    def __init__(self, rows: list[dict]) -> None:
        self.rows = rows

    @classmethod
    def read(cls, *paths: str | Path) -> ThroughputTable:
        """The project's table, then more files in its format (e.g. benchmarks/gpu.py's); a later row for the
        same (preset, device, batch_size, precision) replaces an earlier one."""
        keyed: dict[tuple, dict] = {}
        for path in (THROUGHPUT_CSV, *paths):
            with open(path, newline="") as handle:
                reader = csv.DictReader(handle)
                missing = set(THROUGHPUT_COLUMNS) - set(reader.fieldnames or ())
                if missing:
                    raise CostError(f"{path}: throughput table lacks column(s) {sorted(missing)}")
                for line, row in enumerate(reader, start=2):
                    try:
                        row = {**row, "batch_size": int(row["batch_size"])}
                        row["molecules_per_s"] = float(row["molecules_per_s"])
                    except ValueError:
                        raise CostError(
                            f"{path}, row {line}: batch_size / molecules_per_s not numbers"
                        ) from None
                    if row["molecules_per_s"] <= 0:
                        raise CostError(f"{path}, row {line}: molecules_per_s must be > 0")
                    keyed[(row["preset"], row["device"], row["batch_size"], row["precision"])] = row
        return cls(list(keyed.values()))

    @property
    def devices(self) -> list[str]:
        return sorted({r["device"] for r in self.rows} | set(SCALED_DEVICES))

    def device_rows(self, device: str) -> list[dict]:
        if device not in self.devices:
            raise CostError(f"unknown device {device!r}; known devices: {', '.join(self.devices)}")
        if device in SCALED_DEVICES and not any(r["device"] == device for r in self.rows):
            base, factor, why = SCALED_DEVICES[device]
            return [
                {
                    **r,
                    "device": device,
                    "molecules_per_s": r["molecules_per_s"] * factor,
                    "source": f"{why}; the {base} row: {r['source']}",
                }
                for r in self.rows
                if r["device"] == base
            ]
        return [r for r in self.rows if r["device"] == device]

    def rate(self, preset: str, device: str, batch_size: int, precision: str) -> Rate:
        """The measured rate (of the preset, else of one of equal widths), else the nearest measured batch
        size (log scale), same precision first."""
        presets = same_widths(preset)
        rows = [r for r in self.device_rows(device) if r["preset"] in presets]
        if not rows:
            have = sorted({r["preset"] for r in self.device_rows(device)})
            raise CostError(
                f"no throughput for preset {preset!r} on {device}; measured presets there: {', '.join(have)}"
            )
        row = min(
            rows,
            key=lambda r: (
                r["precision"] != precision,
                abs(math.log(r["batch_size"] / batch_size)),
                presets.index(r["preset"]),
            ),
        )
        exact = row["batch_size"] == batch_size and row["precision"] == precision
        return Rate(row["molecules_per_s"], row, not exact)


@dataclass
class Bill:
    device: str
    gpus: int
    jobs: list[Job]
    seconds: list[float]  # per job, on one device (a pretraining: summed over its processes)
    rates: dict[tuple, Rate]  # (preset, batch_size, precision) -> the rate used

    def hours(self, rule: str | None = None, model: str | None = None) -> float:
        return sum(
            s / 3600
            for j, s in zip(self.jobs, self.seconds, strict=True)
            if (rule is None or j.rule == rule) and (model is None or j.model == model)
        )

    def wall_hours(self) -> tuple[float, float]:
        """(pretraining, finetuning) wall time on `gpus` devices: each pretraining on all of them one after
        another (linear DDP scaling assumed), then the finetune jobs packed greedily, longest first, onto the
        least-loaded device; a job is a (model, dataset, split), whose seeds train one after another on one
        device."""
        pretrain = self.hours("pretrain") / self.gpus
        per_job: dict[tuple, float] = {}
        for j, s in zip(self.jobs, self.seconds, strict=True):
            if j.rule == "finetune":
                per_job[j.workflow_job] = per_job.get(j.workflow_job, 0.0) + s
        loads = [0.0] * self.gpus
        for s in sorted(per_job.values(), reverse=True):
            loads[loads.index(min(loads))] += s
        return pretrain, max(loads) / 3600

    def summary(self) -> dict:
        """Totals per (rule, model), the split, job counts, wall time and the rates used (JSON-ready)."""
        groups: dict[tuple[str, str], dict] = {}
        for job, seconds in zip(self.jobs, self.seconds, strict=True):
            g = groups.setdefault(
                (job.rule, job.model),
                {"rule": job.rule, "model": job.model, "jobs": 0, "steps": 0, "train_passes": 0},
            )
            g["jobs"] += 1
            g["steps"] += job.steps
            g["train_passes"] += job.train_passes
            g.setdefault("forward_passes", 0)
            g["forward_passes"] += job.forward_passes
            g["gpu_hours"] = g.get("gpu_hours", 0.0) + seconds / 3600
        pretrain, finetune = self.wall_hours()
        total = self.hours()
        return {
            "device": self.device,
            "gpus": self.gpus,
            "rows": list(groups.values()),
            "jobs": {
                rule: sum(j.rule == rule for j in self.jobs) for rule in ("pretrain", "finetune", "baseline")
            },
            "gpu_hours": {
                "pretrain": self.hours("pretrain"),
                "finetune": self.hours("finetune"),
                "total": total,
            },
            "wall_hours": {"pretrain": pretrain, "finetune": finetune, "total": pretrain + finetune},
            "rates": [
                {"preset": p, "batch_size": b, "precision": c, **asdict(r)}
                for (p, b, c), r in self.rates.items()
            ],
        }


def job_seconds(job: Job, rate: float) -> float:
    """Device-seconds of a job at `rate` training molecules/s per device."""
    forward = rate / FORWARD_SHARE
    return job.train_passes / rate + job.forward_passes / forward + STARTUP_S * job.startups


#: the throughput table's synthetic molecules have this many tokens (benchmarks/gpu.py); on real data a step's
#: cost is scaled by the molecules' mean token count over this (about linear for the model's sizes)
MEASURED_TOKENS = 64


def finetune_seconds(
    rate: float, *, train: int, predicted: int, epochs: int, mean_tokens: float, evaluations: int
) -> float:
    """Device-seconds of one finetune at `rate` (molecules/s at MEASURED_TOKENS tokens): `epochs` over `train`
    molecules, `evaluations` validations of the valid fold and one prediction, together `predicted`
    molecules, as forward passes, and one start-up. Every epoch counted: an upper bound under early stopping."""
    forward_passes = predicted * (evaluations + 1)
    seconds = (epochs * train + forward_passes * FORWARD_SHARE) / rate
    return seconds * mean_tokens / MEASURED_TOKENS + STARTUP_S


def table_precision(precision: str, device: str) -> str:
    """The table's precision for a run's setting: "auto" trains in bf16 on a GPU and in fp32 on CPU
    (mumo.model.precision.autocast)."""
    return precision if precision != "auto" else ("fp32" if device == "cpu" else "bf16")


def price(jobs_: list[Job], table: ThroughputTable, device: str, gpus: int) -> Bill:
    """Each MuMo job's device-seconds at the table's rate for its preset, batch and precision on `device`."""
    if gpus < 1:
        raise CostError(f"--gpus must be >= 1, got {gpus}")
    table.device_rows(device)  # an unknown device fails here, listing the known ones
    rates: dict[tuple, Rate] = {}
    seconds = []
    for job in jobs_:
        if job.rule == "baseline":
            seconds.append(0.0)
            continue
        precision = table_precision(job.precision, device)
        key = (job.preset, job.batch_size, precision)
        if key not in rates:
            rates[key] = table.rate(job.preset, device, job.batch_size, precision)
        seconds.append(job_seconds(job, rates[key].molecules_per_s))
    return Bill(device, gpus, jobs_, seconds, rates)


def estimate(
    config_path: str | Path, device: str, gpus: int, throughput: list[str | Path] | None = None
) -> Bill:
    """The bill of a config file on `gpus` devices of a kind."""
    plan = Plan.from_config(load_config(config_path))
    return price(jobs(plan, gpus), ThroughputTable.read(*(throughput or [])), device, gpus)


def _hours(hours: float) -> str:
    """Hours to one decimal; a bill under an hour (a test config) in minutes, so it does not read 0.0."""
    return f"{hours:,.1f} h" if hours >= 1 or hours == 0 else f"{hours * 60:.1f} min"


def format_bill(bill: Bill) -> str:
    """A readable table: GPU-hours per rule and model, the split, job counts, wall time and the rates used."""
    summary = bill.summary()
    header = ("rule", "model", "jobs", "optimizer steps", "train passes", "forward passes", "GPU time")
    lines = [header]
    for g in sorted(summary["rows"], key=lambda g: (g["rule"] != "pretrain", g["rule"], g["model"])):
        hours = "CPU, not priced" if g["rule"] == "baseline" else _hours(g["gpu_hours"])
        lines.append(
            (
                g["rule"],
                g["model"],
                f"{g['jobs']:,}",
                f"{g['steps']:,}",
                f"{g['train_passes']:,}",
                f"{g['forward_passes']:,}",
                hours,
            )
        )
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    text = [
        "  ".join(
            c.rjust(w) if i > 1 else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in lines
    ]
    hours, wall, count = summary["gpu_hours"], summary["wall_hours"], summary["jobs"]
    share = hours["pretrain"] / hours["total"] if hours["total"] else 0.0
    text += [
        "",
        f"{bill.device} GPU time: {_hours(hours['total'])} = pretraining {_hours(hours['pretrain'])} "
        f"({share:.0%}) + finetuning {_hours(hours['finetune'])} ({1 - share:.0%})",
        f"jobs: {sum(count.values()):,} = {count['pretrain']} pretraining, {count['finetune']:,} finetuning, "
        f"{count['baseline']:,} baseline fits (CPU)",
        f"wall time on {bill.gpus} × {bill.device}: {_hours(wall['total'])} = pretraining "
        f"{_hours(wall['pretrain'])} (each on all {bill.gpus}, DDP, linear scaling assumed) + finetuning "
        f"{_hours(wall['finetune'])} (packed greedily, one job per device)",
        "throughput used (training molecules/s per device; forward passes at 3×; "
        f"{STARTUP_S:.0f} s start-up per process):",
    ]
    sources: list[str] = []
    for rate in summary["rates"]:
        row = rate["row"]
        flag = f"from batch {row['batch_size']} {row['precision']}" if rate["extrapolated"] else "exact row"
        if row["preset"] != rate["preset"]:
            flag += f" of preset {row['preset']} (same widths)"
        if row["source"] not in sources:
            sources.append(row["source"])
        text.append(
            f"  {rate['preset']} batch {rate['batch_size']} {rate['precision']}: "
            f"{rate['molecules_per_s']:,.1f} [{sources.index(row['source']) + 1}] "
            + ("EXTRAPOLATED " if rate["extrapolated"] else "")
            + flag
        )
    text += [f"  [{i}] {source}" for i, source in enumerate(sources, start=1)]
    return "\n".join(text)
