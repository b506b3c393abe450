rule ecfp:
    input:
        f"{RESULTS}/data/standardised/{{dataset}}.csv",
    output:
        f"{RESULTS}/features/ecfp/{{dataset}}.npy",
    log:
        f"{RESULTS}/logs/ecfp/{{dataset}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/ecfp/{{dataset}}.tsv"
    conda:
        "../envs/data.yaml"
    params:
        n_bits=config["ecfp_rf"]["n_bits"],
        radius=config["ecfp_rf"]["radius"],
    script:
        "../workflow/scripts/ecfp.py"


rule train_ecfp_rf:
    input:
        table=f"{RESULTS}/data/standardised/{{dataset}}.csv",
        split=f"{RESULTS}/data/splits/{{dataset}}/{{split}}/seed{{seed}}.json",
        features=f"{RESULTS}/features/ecfp/{{dataset}}.npy",
    output:
        f"{RESULTS}/runs/ecfp_rf/{{dataset}}/{{split}}/seed{{seed}}/predictions.csv",
    log:
        f"{RESULTS}/logs/train_ecfp_rf/{{dataset}}/{{split}}/seed{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/train_ecfp_rf/{{dataset}}/{{split}}/seed{{seed}}.tsv"
    conda:
        "../envs/data.yaml"
    threads: 2
    params:
        dataset=resolved,
        settings=lambda wc: {
            k: v for k, v in config["ecfp_rf"].items() if k not in ("n_bits", "radius")
        },
    script:
        "../workflow/scripts/train_ecfp_rf.py"
