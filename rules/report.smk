rule evaluate:
    input:
        predictions=f"{RESULTS}/runs/{{model}}/{{dataset}}/{{split}}/seed{{seed}}/predictions.csv",
        split=f"{RESULTS}/data/splits/{{dataset}}/{{split}}/seed{{seed}}.json",
    output:
        f"{RESULTS}/runs/{{model}}/{{dataset}}/{{split}}/seed{{seed}}/metrics.json",
    log:
        f"{RESULTS}/logs/evaluate/{{model}}/{{dataset}}/{{split}}/seed{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/evaluate/{{model}}/{{dataset}}/{{split}}/seed{{seed}}.tsv"
    conda:
        "../envs/report.yaml"
    params:
        dataset=resolved,
    script:
        "../workflow/scripts/evaluate.py"


rule aggregate:
    input:
        plan.run_metrics(),
    output:
        report(
            f"{RESULTS}/table.csv",
            caption="../workflow/report/table.rst",
            category="Results",
        ),
    log:
        f"{RESULTS}/logs/aggregate.log",
    benchmark:
        f"{RESULTS}/benchmarks/aggregate.tsv"
    conda:
        "../envs/report.yaml"
    script:
        "../workflow/scripts/aggregate.py"


rule figures:
    input:
        f"{RESULTS}/table.csv",
    output:
        png=report(
            f"{RESULTS}/figures/metrics.png",
            caption="../workflow/report/metrics.rst",
            category="Figures",
        ),
        pdf=f"{RESULTS}/figures/metrics.pdf",
    log:
        f"{RESULTS}/logs/figures.log",
    benchmark:
        f"{RESULTS}/benchmarks/figures.tsv"
    conda:
        "../envs/report.yaml"
    params:
        headline=plan.headline_metrics(),
    script:
        "../workflow/scripts/figures.py"
