# reads the seeds' metrics.json that the groups' records list (the training jobs score their own seeds)
rule aggregate:
    input:
        plan.group_records(),
    output:
        report(
            plan.table,
            caption="../workflow/report/table.rst",
            category="Results",
        ),
    log:
        plan.tagged("logs/aggregate", "log"),
    benchmark:
        plan.tagged("benchmarks/aggregate", "tsv")
    script:
        "../workflow/scripts/aggregate.py"


rule figures:
    input:
        plan.table,
    output:
        png=report(
            f"{FIGURES}/{{figure}}.png",
            caption="../workflow/report/figures.rst",
            category="Figures",
            labels={"figure": "{figure}"},
        ),
        pdf=f"{FIGURES}/{{figure}}.pdf",
    log:
        f"{RESULTS}/logs/figures{plan.tag_dir}/{{figure}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/figures{plan.tag_dir}/{{figure}}.tsv"
    wildcard_constraints:
        figure="metrics|comparison|ablations",
    params:
        headline=plan.headline_metrics(),
        preset=config["mumo"]["preset"],
        budget=plan.training_budget(),
    script:
        "../workflow/scripts/figures.py"


rule learning_curves:
    input:
        lambda wc: plan.curve_inputs(wc.stage),
    output:
        png=report(
            f"{FIGURES}/{{stage}}_curves.png",
            caption="../workflow/report/learning_curves.rst",
            category="Figures",
            labels={"figure": "{stage} learning curves"},
        ),
        pdf=f"{FIGURES}/{{stage}}_curves.pdf",
    log:
        f"{RESULTS}/logs/learning_curves{plan.tag_dir}/{{stage}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/learning_curves{plan.tag_dir}/{{stage}}.tsv"
    wildcard_constraints:
        stage="pretrain|finetune",
    params:
        files=lambda wc: plan.curve_files(wc.stage),
        preset=config["mumo"]["preset"],
    script:
        "../workflow/scripts/learning_curves.py"
