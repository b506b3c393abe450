"""A finished run's tables in Markdown, as `claims-cpu.md` and `default-run.md` quote them; prints to stdout.

    .venv/bin/python benchmarks/claims_report.py results/claims-cpu      # or results/ for the default run
    .venv/bin/python benchmarks/claims_report.py results/claims-cpu --tag datasets-bace+freesolv   # a filtered run

Reads only what the run wrote: `table.csv` and `comparisons.csv` (the headline metric of each dataset and split
is the one the comparisons use), `conformer_robustness_summary.csv`, each MuMo seed's `summary.json` (through
the group records under `runs/`) and each pretraining's `training_log.csv`. Sections without their file are
left out with a line saying so.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pandas as pd

from mumo.apps.cost import steps_per_epoch
from mumo.plan.layout import finished_runs, tagged_path


def _markdown(frame: pd.DataFrame) -> str:
    """A pipe table; numbers are written as the caller formatted them."""
    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def headlines(results: Path, tag: str = "") -> pd.DataFrame:
    """(dataset, split, task, metric, direction) of every compared dataset: the task (`macro` for multi-task
    data) and metric the paired comparisons use."""
    comparisons = pd.read_csv(tagged_path(results, "comparisons", "csv", tag))
    return comparisons[["dataset", "split", "task", "metric", "direction"]].drop_duplicates()


def test_table(results: Path, tag: str = "") -> pd.DataFrame:
    """Mean ± std over seeds of the headline test metric, a column per model."""
    keys = ["dataset", "split", "task", "metric"]
    table = pd.read_csv(tagged_path(results, "table", "csv", tag)).merge(headlines(results, tag), on=keys)
    table["cell"] = [
        f"{row.mean:.3f} ± {row.std:.3f} ({row.n_seeds})" for row in table.itertuples(index=False)
    ]
    wide = table.pivot_table(index=[*keys, "direction"], columns="model", values="cell", aggfunc="first")
    return wide.reset_index().fillna("–")


def comparisons_table(results: Path, tag: str = "") -> pd.DataFrame:
    """Every paired comparison: the mean difference (positive: `model` better) and its 95 % interval."""
    rows = pd.read_csv(tagged_path(results, "comparisons", "csv", tag))
    interval = [
        "–" if math.isnan(low) else f"[{low:+.3f}, {high:+.3f}]"
        for low, high in zip(rows.ci_low, rows.ci_high, strict=True)
    ]
    return pd.DataFrame(
        {
            "dataset": rows.dataset,
            "metric": rows.metric,
            "comparison": rows.comparison,
            "model vs reference": rows.model + " vs " + rows.reference,
            "pairs": rows.n_pairs,
            "mean difference": rows.mean_diff.map("{:+.3f}".format),
            "95 % CI": interval,
            "better": rows.better,
        }
    )


def robustness_table(results: Path, tag: str = "") -> pd.DataFrame:
    """Per model, dataset and what was varied: the prediction spread (mean over seeds of each seed's mean,
    and the largest of any molecule) and the largest change of the test metric over the sets."""
    summary = pd.read_csv(tagged_path(results, "conformer_robustness_summary", "csv", tag))
    grouped = summary.groupby(["model", "dataset", "varied", "sets"], as_index=False).agg(
        seeds=("seed", "nunique"),
        mean_spread=("mean_spread", "mean"),
        max_spread=("max_spread", "max"),
        metric_range=("metric_range", "max"),
        fallbacks_changed=("n_2d_fallback_changed", "sum"),
    )
    for column in ("mean_spread", "max_spread", "metric_range"):
        grouped[column] = grouped[column].map("{:.2g}".format)
    return grouped


def _number(value: float | None) -> str:
    """Three decimals, or a dash where there is none (a run that keeps its last step has no best loss)."""
    return "–" if value is None else f"{value:.3f}"


def training_table(results: Path, tag: str = "") -> pd.DataFrame:
    """Per MuMo model and dataset: epochs trained and kept, early stops and the best validation loss, per seed
    (every finished group under `runs/`, whatever the tag)."""
    rows = []
    for record_path in sorted((results / "runs").glob("mumo*/*/*/seeds-*.json")):
        record = json.loads(record_path.read_text())
        for run in finished_runs(record_path):
            summary = json.loads((run / "summary.json").read_text())
            settings = summary["settings"]
            per_epoch = steps_per_epoch(
                summary["train"], settings["batch_size"], settings["grad_accum"], summary["world_size"]
            )
            rows.append(
                {
                    "model": record["model"],
                    "dataset": record["dataset"],
                    "seed": settings["seed"],
                    "epochs run": f"{summary['steps'] / per_epoch:.0f} of {settings['epochs']}",
                    "best epoch": f"{summary['best_step'] / per_epoch:.0f}" if summary["best_step"] else "–",
                    "stopped early": summary["stopped_early"],
                    "best valid loss": _number(summary["best_valid_loss"]),
                }
            )
    return pd.DataFrame(rows)


def pretraining_table(results: Path, tag: str = "") -> pd.DataFrame:
    """The masked-token validation loss of every pretraining at each evaluation step (no tag: a filtered run
    shares its full run's pretraining)."""
    curves = {}
    for log in sorted((results / "pretrain").glob("*/training_log.csv")):
        frame = pd.read_csv(log).dropna(subset=["valid_loss"])
        curves[log.parent.name] = frame.set_index("step")["valid_loss"].map("{:.3f}".format)
    return pd.DataFrame(curves).fillna("–").rename_axis("step").reset_index()


SECTIONS = {
    "Test scores (headline metric, mean ± std over seeds, seeds in brackets)": test_table,
    "Paired comparisons (positive: the first model better)": comparisons_table,
    "Conformer robustness": robustness_table,
    "MuMo finetuning, per seed": training_table,
    "Pretraining: masked-token validation loss": pretraining_table,
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("results", type=Path, help="a run's results folder (results/ or results/<name>/)")
    parser.add_argument("--tag", default="", help="a filtered run's tag, e.g. datasets-bace+freesolv")
    args = parser.parse_args()
    for title, build in SECTIONS.items():
        print(f"### {title}\n")
        try:
            frame = build(args.results, args.tag)
        except FileNotFoundError as missing:
            print(f"(not yet written: {missing.filename})\n")
            continue
        print((_markdown(frame) if len(frame) else "(nothing finished yet)") + "\n")


if __name__ == "__main__":
    main()
