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
            f"{RESULTS}/figures/{{figure}}.png",
            caption="../workflow/report/figures.rst",
            category="Figures",
            labels={"figure": "{figure}"},
        ),
        pdf=f"{RESULTS}/figures/{{figure}}.pdf",
    log:
        f"{RESULTS}/logs/figures/{{figure}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/figures/{{figure}}.tsv"
    wildcard_constraints:
        figure="metrics|comparison|ablations",
    conda:
        "../envs/report.yaml"
    params:
        headline=plan.headline_metrics(),
        preset=config["mumo"]["preset"],
    script:
        "../workflow/scripts/figures.py"


rule learning_curves:
    input:
        lambda wc: plan.curve_inputs(wc.stage),
    output:
        png=report(
            f"{RESULTS}/figures/{{stage}}_curves.png",
            caption="../workflow/report/learning_curves.rst",
            category="Figures",
            labels={"figure": "{stage} learning curves"},
        ),
        pdf=f"{RESULTS}/figures/{{stage}}_curves.pdf",
    log:
        f"{RESULTS}/logs/learning_curves/{{stage}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/learning_curves/{{stage}}.tsv"
    wildcard_constraints:
        stage="pretrain|finetune",
    conda:
        "../envs/report.yaml"
    params:
        preset=config["mumo"]["preset"],
    script:
        "../workflow/scripts/learning_curves.py"
