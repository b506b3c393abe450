"""The robustness statistics on numbers worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from mumo.eval.robustness import (
    CONFORMER_SEED,
    NUM_CONFORMERS,
    REFERENCE,
    ConformerSet,
    fallback_sets,
    families,
    molecule_spread,
    run_summary,
)

SETS = [
    ConformerSet(42, 1, REFERENCE),
    ConformerSet(43, 1, CONFORMER_SEED),
    ConformerSet(44, 1, CONFORMER_SEED),
    ConformerSet(42, 10, NUM_CONFORMERS),
]


def _molecules() -> pd.DataFrame:
    """Three test molecules of one task: A moves, B does not but falls back to 2D under seed 44, C has no
    structure record under seed 43."""
    return pd.DataFrame(
        {
            "mol_id": ["A", "B", "C"],
            "pred_seed42-n1": [0.2, 0.5, 0.1],
            "pred_seed43-n1": [0.4, 0.5, np.nan],
            "pred_seed44-n1": [0.6, 0.5, 0.3],
            "pred_seed42-n10": [0.3, 0.5, 0.1],
            "source_seed42-n1": ["mmff", "mmff", "mmff"],
            "source_seed43-n1": ["mmff", "mmff", "no_record"],
            "source_seed44-n1": ["mmff", "2d_fallback", "mmff"],
            "source_seed42-n10": ["mmff", "mmff", "mmff"],
        }
    )


def test_families_compare_each_varied_setting_with_the_reference():
    found = families(SETS)
    assert {k: [s.name for s in v] for k, v in found.items()} == {
        CONFORMER_SEED: ["seed42-n1", "seed43-n1", "seed44-n1"],
        NUM_CONFORMERS: ["seed42-n1", "seed42-n10"],
    }
    with pytest.raises(ValueError, match="exactly one reference"):
        families(SETS[1:])


def test_spread_is_the_population_std_and_nan_where_a_set_has_no_prediction():
    spread = molecule_spread(_molecules(), ["seed42-n1", "seed43-n1", "seed44-n1"])
    # A: deviations -0.2, 0, 0.2 from 0.4 -> sqrt(0.08 / 3); B: constant; C: missing under seed 43
    assert spread[0] == pytest.approx(math.sqrt(0.08 / 3))
    assert spread[1] == 0.0
    assert math.isnan(spread[2])
    # two sets: half the difference
    assert molecule_spread(_molecules(), ["seed42-n1", "seed42-n10"])[0] == pytest.approx(0.05)


def test_run_summary_counts_fallbacks_and_unpredicted_molecules():
    scores = pd.Series({"seed42-n1": 0.80, "seed43-n1": 0.70, "seed44-n1": 0.75, "seed42-n10": 0.9})
    summary = run_summary(_molecules(), scores, families(SETS)[CONFORMER_SEED])
    assert summary["varied"] == CONFORMER_SEED and summary["n_sets"] == 3
    assert summary["mean_spread"] == pytest.approx(math.sqrt(0.08 / 3) / 2)  # A and B; C has no spread
    assert summary["max_spread"] == pytest.approx(math.sqrt(0.08 / 3))
    assert (summary["metric_min"], summary["metric_max"]) == (0.70, 0.80)
    assert summary["metric_range"] == pytest.approx(0.10)
    assert summary["n_molecules"] == 3 and summary["n_spread"] == 2 and summary["n_unpredicted"] == 1
    # B falls back under one of the three seeds: counted, and its 3D prior changes between sets
    assert summary["n_2d_fallback"] == 1 and summary["n_2d_fallback_changed"] == 1
    # the other family: the reference and 10 conformers, nothing missing or 2D
    other = run_summary(_molecules(), scores, families(SETS)[NUM_CONFORMERS])
    assert other["metric_range"] == pytest.approx(0.10) and other["n_unpredicted"] == 0
    assert other["mean_spread"] == pytest.approx((0.05 + 0 + 0) / 3)
    assert other["n_2d_fallback"] == 0


def test_a_molecule_with_several_tasks_is_counted_once():
    two_tasks = pd.concat([_molecules(), _molecules()], ignore_index=True)
    summary = run_summary(two_tasks, pd.Series(dtype=float), families(SETS)[CONFORMER_SEED])
    assert summary["n_molecules"] == 3 and summary["n_spread"] == 4
    assert summary["n_2d_fallback"] == 1 and summary["n_unpredicted"] == 1
    assert math.isnan(summary["metric_range"]) and summary["n_metric_finite"] == 0


def test_fallback_sets_name_the_sets_without_3d():
    names = [s.name for s in SETS]
    assert fallback_sets(_molecules(), names).tolist() == ["", "seed44-n1", ""]
