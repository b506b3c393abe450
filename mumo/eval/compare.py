"""results/comparisons.csv: paired differences between two models on the headline test metric, seed by seed.

Seed s of every model trains and tests on the same split file, so two models' scores on one seed are a pair:
their difference cancels the split-to-split variation that both share and that the table's per-model std
still holds. Per pair of models: the per-seed differences, their mean and a 95 % Student-t confidence
interval over seeds (ddof = 1). Positive always means that `model` is better than `reference` (for an error
metric such as RMSE: reference − model).

Which pairs a run compares, per (dataset, split), among the models that ran there (`declared_pairs`):
every model against the best baseline (any non-MuMo model of the catalog; the best mean over seeds), each
full MuMo model against each ablation, and each full MuMo model against Chemprop.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd
from scipy import stats

from mumo.catalog import MODELS, get_model
from mumo.eval.aggregate import headline_rows
from mumo.eval.metrics import get_metric

logger = logging.getLogger(__name__)

CONFIDENCE = 0.95
#: what a row compares: the model with the best baseline, a full MuMo model with an ablation, or with Chemprop
BEST_BASELINE, ABLATION, CHEMPROP = "best baseline", "ablation", "chemprop"
CHEMPROP_KIND = "chemprop"  # the catalog kind of Chemprop models
MODEL, REFERENCE, NEITHER = "model", "reference", "neither"  # the `better` column
DIFF_FORMAT = "{:.6f}"  # the per-seed differences in `diffs`
SEED_SEPARATOR = ";"
COMPARISON_COLUMNS = [
    "dataset",
    "split",
    "task",
    "metric",
    "comparison",
    "model",
    "reference",
    "direction",
    "n_pairs",
    "seeds",
    "diffs",
    "mean_diff",
    "sd_diff",
    "ci_low",
    "ci_high",
    "excludes_zero",
    "better",
    "model_mean",
    "reference_mean",
    "note",
]


def is_baseline(model: str) -> bool:
    """Any model of the catalog that is not MuMo (mean, ECFP+RF, Chemprop, ...)."""
    return get_model(model).kind != "mumo"


def best_baseline(means: dict[str, float], higher_is_better: bool) -> str | None:
    """The baseline of `means` (model -> mean score over seeds) with the best finite mean, ties going to the
    first in catalog order; None when no baseline has one."""
    finite = {m: v for m, v in means.items() if is_baseline(m) and math.isfinite(v)}
    if not finite:
        return None
    ordered = sorted(finite, key=list(MODELS).index)
    return (max if higher_is_better else min)(ordered, key=finite.__getitem__)


def declared_pairs(models: list[str], best: str | None) -> list[tuple[str, str, str]]:
    """(model, reference, comparison) for the models of one (dataset, split), each pair once (a full MuMo
    model against Chemprop is kept as a best-baseline row where Chemprop is the best baseline)."""
    models = sorted(models, key=list(MODELS).index)
    full = [m for m in models if get_model(m).kind == "mumo" and not get_model(m).ablation]
    pairs = [(m, best, BEST_BASELINE) for m in models if best is not None and m != best]
    pairs += [(m, a, ABLATION) for m in full for a in models if get_model(a).ablation]
    pairs += [(m, c, CHEMPROP) for m in full for c in models if get_model(c).kind == CHEMPROP_KIND]
    unique: dict[tuple[str, str], str] = {}
    for model, reference, comparison in pairs:
        unique.setdefault((model, reference), comparison)
    return [(model, reference, comparison) for (model, reference), comparison in unique.items()]


def t_interval(diffs: np.ndarray) -> dict:
    """Mean, sample sd (ddof = 1) and the Student-t confidence interval of the differences, and which model
    the interval favours; with fewer than two differences the sd and the interval are NaN."""
    n = len(diffs)
    mean = float(np.mean(diffs)) if n else math.nan
    sd = float(np.std(diffs, ddof=1)) if n > 1 else math.nan
    half = float(stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1)) * sd / math.sqrt(n) if n > 1 else math.nan
    low, high = mean - half, mean + half
    better = MODEL if low > 0 else REFERENCE if high < 0 else NEITHER  # NaN compares False: neither
    return {
        "n_pairs": n,
        "mean_diff": mean,
        "sd_diff": sd,
        "ci_low": low,
        "ci_high": high,
        "excludes_zero": better != NEITHER,
        "better": better,
    }


def _unpaired_note(model: pd.Series, reference: pd.Series, names: tuple[str, str]) -> str:
    """The seeds only one of the two models ran, by model ('' when both ran the same seeds)."""
    only = [
        f"seed(s) {', '.join(map(str, sorted(set(a.index) - set(b.index))))} only in {name}"
        for name, a, b in ((names[0], model, reference), (names[1], reference, model))
        if set(a.index) - set(b.index)
    ]
    return f"different seed sets, unpaired: {'; '.join(only)}" if only else ""


def _non_finite_note(seeds: list, scores: np.ndarray, names: tuple[str, str]) -> str:
    """The seeds (rows of `scores`: model, reference) without a finite score on one side or both."""
    missing = [
        f"{seed} ({' and '.join(name for name, v in zip(names, row, strict=True) if not np.isfinite(v))})"
        for seed, row in zip(seeds, scores, strict=True)
        if not np.isfinite(row).all()
    ]
    return (
        f"{len(missing)} seed(s) without a finite score, not paired: {', '.join(missing)}" if missing else ""
    )


def paired_difference(
    model: pd.Series, reference: pd.Series, higher_is_better: bool, names: tuple[str, str]
) -> dict:
    """The comparison of two models' scores per seed (Series indexed by seed): only the seeds both ran with
    a finite score on each side are pairs; the others are named in `note`."""
    common = sorted(set(model.index) & set(reference.index))
    scores = np.column_stack([model.loc[common].to_numpy(float), reference.loc[common].to_numpy(float)])
    notes = [_unpaired_note(model, reference, names), _non_finite_note(common, scores, names)]
    finite = np.isfinite(scores).all(axis=1)
    seeds = [s for s, ok in zip(common, finite, strict=True) if ok]
    a, b = scores[finite, 0], scores[finite, 1]
    diffs = a - b if higher_is_better else b - a
    if len(diffs) == 0:
        notes.append("no seed with a finite score for both: nothing compared")
    elif len(diffs) == 1:
        notes.append("one pair: no confidence interval (it needs at least 2 seeds)")
    return {
        **t_interval(diffs),
        "seeds": SEED_SEPARATOR.join(map(str, seeds)),
        "diffs": SEED_SEPARATOR.join(DIFF_FORMAT.format(d) for d in diffs),
        "model_mean": float(np.mean(a)) if len(a) else math.nan,
        "reference_mean": float(np.mean(b)) if len(b) else math.nan,
        "note": "; ".join(filter(None, notes)),
    }


def _preset_note(model: str, reference: str, preset: str) -> str:
    """An ablation runs at the config's preset; a full model at another preset differs in more than the
    ablated component."""
    ours, theirs = (get_model(m).preset or preset for m in (model, reference))
    if ours == theirs:
        return ""
    return f"presets differ ({model}: {ours}, {reference}: {theirs}): more than the ablated component differs"


def _check_one_score_per_seed(scores: pd.DataFrame) -> None:
    keys = ["dataset", "split", "task", "metric", "model", "seed"]
    repeated = scores[scores.duplicated(keys, keep=False)]
    if not repeated.empty:
        first = repeated.iloc[0]
        where = ", ".join(f"{key} {first[key]}" for key in keys)
        raise ValueError(f"two test scores for {where}: a seed's run is listed twice in the inputs")


def paired_comparisons(scores: pd.DataFrame, headline: dict[str, str], preset: str) -> pd.DataFrame:
    """The rows of results/comparisons.csv from the per-seed scores (`mumo.eval.aggregate.run_scores`):
    test fold, each dataset's `headline` metric on its summary task (`headline_rows`); `preset` is the
    config's `mumo.preset`, at which the ablations run."""
    unknown = sorted(set(scores["dataset"]) - set(headline))
    if unknown:
        raise ValueError(f"no headline metric given for dataset(s) {unknown}: their rows would be left out")
    test = headline_rows(scores[scores["fold"] == "test"], headline)
    _check_one_score_per_seed(test)
    rows = []
    for (dataset, split, task), part in test.groupby(["dataset", "split", "task"], sort=True):
        metric = get_metric(headline[dataset])
        per_seed = {model: runs.set_index("seed")["value"] for model, runs in part.groupby("model")}
        best = best_baseline({m: float(s.mean()) for m, s in per_seed.items()}, metric.higher_is_better)
        if best is None and any(map(is_baseline, per_seed)):
            logger.warning(
                "%s, %s split: no baseline has a finite %s; no model is compared with a baseline",
                dataset,
                split,
                metric.name,
            )
        for model, reference, comparison in declared_pairs(list(per_seed), best):
            pair = paired_difference(
                per_seed[model], per_seed[reference], metric.higher_is_better, (model, reference)
            )
            if comparison == ABLATION:
                pair["note"] = "; ".join(filter(None, [pair["note"], _preset_note(model, reference, preset)]))
            rows.append(
                {
                    "dataset": dataset,
                    "split": split,
                    "task": task,
                    "metric": metric.name,
                    "comparison": comparison,
                    "model": model,
                    "reference": reference,
                    "direction": "higher" if metric.higher_is_better else "lower",
                    **pair,
                }
            )
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)
