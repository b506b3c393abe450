import math

import pandas as pd
import pytest

import mumo.catalog as catalog
from mumo.catalog import ModelSpec
from mumo.eval.compare import (
    ABLATION,
    BEST_BASELINE,
    CHEMPROP,
    COMPARISON_COLUMNS,
    best_baseline,
    declared_pairs,
    paired_comparisons,
)

# t quantiles, 0.975, from a statistical table (independent of scipy)
T_975_1, T_975_2 = 12.706204736174705, 4.302652729911275
SQRT_2, SQRT_3 = 1.4142135623730951, 1.7320508075688772


def _scores(
    values: dict[str, dict[int, float]], dataset="bbbp", metric="roc_auc", task="p_np", split="scaffold"
):
    """Per-seed test scores as `run_scores` gives them: {model: {seed: value}}, plus a valid-fold row per seed
    that must never be compared."""
    rows = [
        {"dataset": dataset, "split": split, "task": task, "metric": metric, "model": model, "seed": seed}
        | {"fold": fold, "value": value if fold == "test" else 0.0}
        for model, seeds in values.items()
        for seed, value in seeds.items()
        for fold in ("valid", "test")
    ]
    return pd.DataFrame(rows)


def _row(table: pd.DataFrame, model: str, reference: str) -> pd.Series:
    rows = table[(table["model"] == model) & (table["reference"] == reference)]
    assert len(rows) == 1, f"{model} vs {reference}: {len(rows)} rows"
    return rows.iloc[0]


def test_the_interval_is_the_hand_computed_student_t_interval():
    # diffs 0.04, 0.05, 0.06: mean 0.05; sd = sqrt((0.01² + 0 + 0.01²) / 2) = 0.01;
    # half width = t(0.975, 2) · 0.01 / sqrt(3) = 0.024841377118437528 (bc -l)
    table = paired_comparisons(
        _scores({"ecfp_rf": {0: 0.80, 1: 0.81, 2: 0.82}, "mumo": {0: 0.84, 1: 0.86, 2: 0.88}}),
        {"bbbp": "roc_auc"},
        "small",
    )
    assert table.columns.tolist() == COMPARISON_COLUMNS
    row = _row(table, "mumo", "ecfp_rf")
    half = T_975_2 * 0.01 / SQRT_3
    assert half == pytest.approx(0.024841377118437528, rel=1e-12)
    assert (row["n_pairs"], row["seeds"], row["diffs"]) == (3, "0;1;2", "0.040000;0.050000;0.060000")
    assert row["mean_diff"] == pytest.approx(0.05) and row["sd_diff"] == pytest.approx(0.01)
    assert row["ci_low"] == pytest.approx(0.025158622881562472)
    assert row["ci_high"] == pytest.approx(0.07484137711843753)
    assert row["excludes_zero"] and row["better"] == "model" and row["direction"] == "higher"
    assert (row["model_mean"], row["reference_mean"]) == (pytest.approx(0.86), pytest.approx(0.81))
    assert (row["comparison"], row["metric"], row["task"], row["note"]) == (
        BEST_BASELINE,
        "roc_auc",
        "p_np",
        "",
    )


def test_for_an_error_metric_positive_still_means_the_model_is_better():
    # RMSE: diffs are reference − model = 0.3, 0.2, 0.4; mean 0.3, sd 0.1, half width 10 × the case above
    values = {
        "ecfp_rf": {0: 1.3, 1: 1.4, 2: 1.3},
        "mumo": {0: 1.0, 1: 1.2, 2: 0.9},
        "mean": {0: 2.0, 1: 2.1, 2: 2.2},
    }
    table = paired_comparisons(_scores(values, "esol", "rmse", "y"), {"esol": "rmse"}, "small")
    mumo = _row(table, "mumo", "ecfp_rf")
    assert mumo["diffs"] == "0.300000;0.200000;0.400000" and mumo["direction"] == "lower"
    assert mumo["mean_diff"] == pytest.approx(0.3) and mumo["sd_diff"] == pytest.approx(0.1)
    assert (mumo["ci_low"], mumo["ci_high"]) == (
        pytest.approx(0.051586228815624722),
        pytest.approx(0.548413771184375278),
    )
    assert mumo["better"] == "model"
    # the mean baseline's larger error: negative, the reference (ECFP+RF, the lower RMSE) better
    mean = _row(table, "mean", "ecfp_rf")
    assert mean["mean_diff"] == pytest.approx(-(0.7 + 0.7 + 0.9) / 3) and mean["better"] == "reference"
    assert mean["ci_high"] < 0 and mean["excludes_zero"]


def test_only_seeds_both_models_ran_are_paired_and_the_others_are_named():
    # pairs: seed 0 (0.04) and seed 1 (−0.02): mean 0.01, sd = sqrt(2 · 0.03²) = 0.042426406871192851,
    # half width = t(0.975, 1) · sd / sqrt(2) = 0.381186142085241150 (bc -l)
    values = {"ecfp_rf": {0: 0.80, 1: 0.82, 3: 0.70}, "mumo": {0: 0.84, 1: 0.80, 2: 0.90}}
    row = _row(paired_comparisons(_scores(values), {"bbbp": "roc_auc"}, "small"), "mumo", "ecfp_rf")
    assert (row["n_pairs"], row["seeds"]) == (2, "0;1")
    assert T_975_1 * 0.042426406871192851 / SQRT_2 == pytest.approx(0.38118614208524115, rel=1e-12)
    assert (row["ci_low"], row["ci_high"]) == (
        pytest.approx(-0.37118614208524115),
        pytest.approx(0.39118614208524115),
    )
    assert row["better"] == "neither" and not row["excludes_zero"]
    assert "unpaired: seed(s) 2 only in mumo; seed(s) 3 only in ecfp_rf" in row["note"]
    assert row["model_mean"] == pytest.approx(0.82)  # over the pairs, not over all of mumo's seeds


def test_one_pair_has_no_interval_and_says_so():
    values = {"ecfp_rf": {0: 0.80, 1: 0.81}, "mumo": {0: 0.84}}
    row = _row(paired_comparisons(_scores(values), {"bbbp": "roc_auc"}, "small"), "mumo", "ecfp_rf")
    assert row["n_pairs"] == 1 and row["mean_diff"] == pytest.approx(0.04)
    assert math.isnan(row["sd_diff"]) and math.isnan(row["ci_low"]) and math.isnan(row["ci_high"])
    assert not row["excludes_zero"] and row["better"] == "neither"
    assert "one pair: no confidence interval" in row["note"] and "seed(s) 1 only in ecfp_rf" in row["note"]


def test_a_seed_without_a_finite_score_is_not_a_pair_and_is_counted():
    nan = float("nan")
    values = {"ecfp_rf": {0: 0.5, 1: 0.6, 2: nan}, "mumo": {0: 0.7, 1: nan, 2: 0.7}}
    row = _row(
        paired_comparisons(_scores(values, "tdc_x", "spearman", "y"), {"tdc_x": "spearman"}, "small"),
        "mumo",
        "ecfp_rf",
    )
    assert (row["n_pairs"], row["seeds"], row["diffs"]) == (1, "0", "0.200000")
    assert "2 seed(s) without a finite score, not paired: 1 (mumo), 2 (ecfp_rf)" in row["note"]


def test_no_finite_pair_gives_a_row_that_says_nothing_was_compared():
    nan = float("nan")
    values = {"ecfp_rf": {0: 0.5, 1: 0.6}, "mumo": {0: nan, 1: nan}}
    row = _row(paired_comparisons(_scores(values), {"bbbp": "roc_auc"}, "small"), "mumo", "ecfp_rf")
    assert row["n_pairs"] == 0 and math.isnan(row["mean_diff"]) and row["better"] == "neither"
    assert "nothing compared" in row["note"]


@pytest.fixture
def chemprop(monkeypatch):
    """A Chemprop entry in the catalog (kind `chemprop`), after the MuMo models as a new model would be."""
    spec = ModelSpec("chemprop", "chemprop", "D-MPNN baseline", "Chemprop (D-MPNN)")
    monkeypatch.setitem(catalog.MODELS, "chemprop", spec)
    return spec.name


def test_the_best_baseline_is_any_non_mumo_model_with_the_best_finite_mean(chemprop):
    means = {"mean": 3.0, "ecfp_rf": 2.0, chemprop: 1.8, "mumo": 1.0}
    assert best_baseline(means, higher_is_better=False) == chemprop  # MuMo is no baseline, however good
    assert best_baseline(means, higher_is_better=True) == "mean"
    assert best_baseline({"mean": float("nan"), "ecfp_rf": 0.2}, higher_is_better=True) == "ecfp_rf"
    assert best_baseline({chemprop: 0.5, "ecfp_rf": 0.5}, higher_is_better=True) == "ecfp_rf"  # catalog order
    assert best_baseline({"mean": float("nan"), "mumo": 0.9}, higher_is_better=True) is None


def test_best_baseline_is_chosen_on_the_mean_over_all_its_seeds_and_never_compared_with_itself(chemprop):
    values = {
        "mean": {0: 3.0, 1: 3.0, 2: 3.0},
        "ecfp_rf": {0: 2.0, 1: 1.6, 2: 2.0},  # mean 1.87 > chemprop's 1.8 (RMSE: lower is better)
        chemprop: {0: 1.7, 1: 1.8, 2: 1.9},
        "mumo": {0: 1.5, 1: 1.7, 2: 1.6},
    }
    table = paired_comparisons(_scores(values, "esol", "rmse", "y"), {"esol": "rmse"}, "small")
    assert set(table["reference"]) == {chemprop}
    assert table[["model", "comparison"]].values.tolist() == [
        ["mean", BEST_BASELINE],
        ["ecfp_rf", BEST_BASELINE],
        ["mumo", BEST_BASELINE],  # also the mumo-vs-Chemprop pair: one row, not two
    ]
    values["ecfp_rf"] = {0: 1.0, 1: 1.1, 2: 1.2}  # now ECFP+RF is the best baseline
    table = paired_comparisons(_scores(values, "esol", "rmse", "y"), {"esol": "rmse"}, "small")
    assert table[["model", "reference", "comparison"]].values.tolist() == [
        ["mean", "ecfp_rf", BEST_BASELINE],
        [chemprop, "ecfp_rf", BEST_BASELINE],  # catalog order: the baselines, then MuMo
        ["mumo", "ecfp_rf", BEST_BASELINE],
        ["mumo", chemprop, CHEMPROP],
    ]


def test_each_full_mumo_model_is_compared_with_each_ablation_and_presets_that_differ_are_noted():
    models = ["ecfp_rf", "mumo_paper", "mumo_fixed", "mumo_seq_only", "mumo_no_pretrain"]
    ablations = [(m, r) for m, r, kind in declared_pairs(models, "ecfp_rf") if kind == ABLATION]
    assert ablations == [
        ("mumo_paper", "mumo_seq_only"),
        ("mumo_paper", "mumo_no_pretrain"),
        ("mumo_fixed", "mumo_seq_only"),
        ("mumo_fixed", "mumo_no_pretrain"),
    ]
    values = {m: {0: 0.7 + 0.01 * i, 1: 0.71 + 0.01 * i} for i, m in enumerate(models)}
    table = paired_comparisons(_scores(values), {"bbbp": "roc_auc"}, preset="paper")  # paper.yaml's preset
    assert _row(table, "mumo_paper", "mumo_seq_only")["note"] == ""  # the ablations run at `paper` too
    note = _row(table, "mumo_fixed", "mumo_seq_only")["note"]
    assert (
        note
        == "presets differ (mumo_fixed: fixed, mumo_seq_only: paper): more than the ablated component differs"
    )
    assert len(table) == 4 + 4  # four models against ECFP+RF, four ablation pairs


def test_multi_task_data_is_compared_on_its_macro_row():
    frames = [
        _scores({"ecfp_rf": {0: v, 1: v + 0.01}, "mumo": {0: v + 0.1, 1: v + 0.1}}, "tox21", "roc_auc", task)
        for task, v in (("t1", 0.6), ("t2", 0.7), ("macro", 0.65))
    ]
    table = paired_comparisons(pd.concat(frames), {"tox21": "roc_auc"}, "small")
    assert table[["task", "model", "reference"]].values.tolist() == [["macro", "mumo", "ecfp_rf"]]
    assert table.iloc[0]["diffs"] == "0.100000;0.090000"


def test_a_seed_listed_twice_is_refused_naming_it():
    scores = _scores({"ecfp_rf": {0: 0.8, 1: 0.8}, "mumo": {0: 0.9, 1: 0.9}})
    twice = pd.concat([scores, scores[(scores["model"] == "mumo") & (scores["seed"] == 1)]])
    with pytest.raises(
        ValueError, match="two test scores for dataset bbbp, split scaffold, .* model mumo, seed 1"
    ):
        paired_comparisons(twice, {"bbbp": "roc_auc"}, "small")


def test_a_run_without_any_pair_gives_an_empty_table_with_its_columns():
    table = paired_comparisons(
        _scores({"mumo_paper": {0: 0.9}, "mumo_fixed": {0: 0.8}}), {"bbbp": "roc_auc"}, "paper"
    )
    assert table.empty and table.columns.tolist() == COMPARISON_COLUMNS


def test_a_dataset_without_a_headline_metric_is_refused_not_left_out():
    scores = pd.concat(
        [_scores({"ecfp_rf": {0: 0.8}, "mumo": {0: 0.9}}), _scores({"mumo": {0: 1.0}}, "esol", "rmse")]
    )
    with pytest.raises(ValueError, match=r"no headline metric given for dataset\(s\) \['esol'\]"):
        paired_comparisons(scores, {"bbbp": "roc_auc"}, "small")
