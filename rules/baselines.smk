# one fingerprint file per standardised table: `{table}` is a dataset, or `{dataset}.authors`
rule ecfp:
    input:
        f"{RESULTS}/data/standardised/{{table}}.csv",
    output:
        f"{RESULTS}/features/ecfp/{{table}}.npy",
    log:
        f"{RESULTS}/logs/ecfp/{{table}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/ecfp/{{table}}.tsv"
    wildcard_constraints:
        table=r"[A-Za-z0-9_\-]+(\.authors)?",
    params:
        n_bits=config["ecfp_rf"]["n_bits"],
        radius=config["ecfp_rf"]["radius"],
    script:
        "../workflow/scripts/ecfp.py"


# the baselines, like the finetunes: one job per (dataset, split) for all its seeds (mumo.steps.seeds)
rule train_ecfp_rf:
    input:
        table=lambda wc: plan.split_table(wc.dataset, wc.split),
        splits=lambda wc: plan.split_files(wc.dataset, wc.split, wc.seeds),
        features=lambda wc: plan.ecfp_features(wc.dataset, wc.split),
    output:
        f"{RESULTS}/runs/ecfp_rf/{{dataset}}/{{split}}/seeds-{{seeds}}.json",
    log:
        f"{RESULTS}/logs/train_ecfp_rf/{{dataset}}/{{split}}/seeds-{{seeds}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/train_ecfp_rf/{{dataset}}/{{split}}/seeds-{{seeds}}.tsv"
    threads: 2
    params:
        model="ecfp_rf",
        dataset=resolved,
        settings=lambda wc: {
            k: v for k, v in config["ecfp_rf"].items() if k not in ("n_bits", "radius")
        },
        runs=lambda wc: plan.seed_runs(
            "ecfp_rf",
            wc.dataset,
            wc.split,
            wc.seeds,
            f"{RESULTS}/logs/train_ecfp_rf/{wc.dataset}/{wc.split}",
        ),
    script:
        "../workflow/scripts/train_baseline.py"


# the mean (dummy) baseline: each task's training-fold mean (or positive rate) for every molecule
rule train_mean:
    input:
        table=lambda wc: plan.split_table(wc.dataset, wc.split),
        splits=lambda wc: plan.split_files(wc.dataset, wc.split, wc.seeds),
    output:
        f"{RESULTS}/runs/mean/{{dataset}}/{{split}}/seeds-{{seeds}}.json",
    log:
        f"{RESULTS}/logs/train_mean/{{dataset}}/{{split}}/seeds-{{seeds}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/train_mean/{{dataset}}/{{split}}/seeds-{{seeds}}.tsv"
    params:
        model="mean",
        dataset=resolved,
        runs=lambda wc: plan.seed_runs(
            "mean",
            wc.dataset,
            wc.split,
            wc.seeds,
            f"{RESULTS}/logs/train_mean/{wc.dataset}/{wc.split}",
        ),
    script:
        "../workflow/scripts/train_baseline.py"


# Chemprop (D-MPNN) through its own Python API, on the table's SMILES: no features file
rule train_chemprop:
    input:
        table=lambda wc: plan.split_table(wc.dataset, wc.split),
        splits=lambda wc: plan.split_files(wc.dataset, wc.split, wc.seeds),
    output:
        f"{RESULTS}/runs/chemprop/{{dataset}}/{{split}}/seeds-{{seeds}}.json",
    log:
        f"{RESULTS}/logs/train_chemprop/{{dataset}}/{{split}}/seeds-{{seeds}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/train_chemprop/{{dataset}}/{{split}}/seeds-{{seeds}}.tsv"
    threads: 2
    params:
        model="chemprop",
        dataset=resolved,
        settings=config["chemprop"],
        runs=lambda wc: plan.seed_runs(
            "chemprop",
            wc.dataset,
            wc.split,
            wc.seeds,
            f"{RESULTS}/logs/train_chemprop/{wc.dataset}/{wc.split}",
        ),
    script:
        "../workflow/scripts/train_baseline.py"
