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


rule train_ecfp_rf:
    input:
        table=lambda wc: plan.split_table(wc.dataset, wc.split),
        split=f"{RESULTS}/data/splits/{{dataset}}/{{split}}/seed{{seed}}.json",
        features=lambda wc: plan.ecfp_features(wc.dataset, wc.split),
    output:
        f"{RESULTS}/runs/ecfp_rf/{{dataset}}/{{split}}/seed{{seed}}/predictions.csv",
    log:
        f"{RESULTS}/logs/train_ecfp_rf/{{dataset}}/{{split}}/seed{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/train_ecfp_rf/{{dataset}}/{{split}}/seed{{seed}}.tsv"
    threads: 2
    params:
        dataset=resolved,
        settings=lambda wc: {
            k: v for k, v in config["ecfp_rf"].items() if k not in ("n_bits", "radius")
        },
    script:
        "../workflow/scripts/train_ecfp_rf.py"


# the mean (dummy) baseline: each task's training-fold mean (or positive rate) for every molecule
rule train_mean:
    input:
        table=lambda wc: plan.split_table(wc.dataset, wc.split),
        split=f"{RESULTS}/data/splits/{{dataset}}/{{split}}/seed{{seed}}.json",
    output:
        f"{RESULTS}/runs/mean/{{dataset}}/{{split}}/seed{{seed}}/predictions.csv",
    log:
        f"{RESULTS}/logs/train_mean/{{dataset}}/{{split}}/seed{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/train_mean/{{dataset}}/{{split}}/seed{{seed}}.tsv"
    params:
        dataset=resolved,
    script:
        "../workflow/scripts/train_mean.py"
