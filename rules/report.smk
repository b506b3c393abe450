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


# the same seeds' scores as `aggregate`, each pair of models differenced seed by seed (seeds share their split)
rule compare:
    input:
        plan.group_records(),
    output:
        report(
            plan.comparisons,
            caption="../workflow/report/comparisons.rst",
            category="Results",
        ),
    log:
        plan.tagged("logs/compare", "log"),
    benchmark:
        plan.tagged("benchmarks/compare", "tsv")
    params:
        headline=plan.headline_metrics(),
        preset=config["mumo"]["preset"],
    script:
        "../workflow/scripts/compare.py"


rule comparisons_figure:
    input:
        plan.comparisons,
    output:
        png=report(
            f"{FIGURES}/paired.png",
            caption="../workflow/report/comparisons_figure.rst",
            category="Figures",
            labels={"figure": "paired"},
        ),
        pdf=f"{FIGURES}/paired.pdf",
    log:
        f"{RESULTS}/logs/figures{plan.tag_dir}/comparisons.log",
    benchmark:
        f"{RESULTS}/benchmarks/figures{plan.tag_dir}/comparisons.tsv"
    params:
        preset=config["mumo"]["preset"],
    script:
        "../workflow/scripts/comparisons_figure.py"


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


# Conformer-noise robustness (mumo.steps.robustness): the test folds' molecules under each variant conformer set
# (another seed, another number of conformers), every table in one file per set, through the shared cache
rule robustness_structure:
    input:
        tables=list(plan.robustness_test_folds()),
        splits=[
            path for paths in plan.robustness_test_folds().values() for path in paths
        ],
    output:
        npz=plan.robustness_store("{conformers}"),
        report=plan.tagged("structure/robustness/{conformers}", "report.csv"),
    log:
        plan.tagged("logs/robustness_structure/{conformers}", "log"),
    benchmark:
        plan.tagged("benchmarks/robustness_structure/{conformers}", "tsv")
    wildcard_constraints:
        conformers=r"seed\d+-n\d+",
    priority: ROBUSTNESS_PRIORITY
    threads: config["structure"]["threads"]
    params:
        test_folds=plan.robustness_test_folds(),
        conformer=lambda wc: plan.robustness_conformer(wc.conformers),
        cache_dir=f"{RESULTS}/structure/cache",
        raw_tables=plan.robustness_raw_tables(),
    script:
        "../workflow/scripts/robustness_structure.py"


# every trained MuMo seed predicts its test fold under every conformer set; one job for the whole run
rule conformer_robustness:
    input:
        records=plan.group_records(plan.robustness_models()),
        stores=list(plan.robustness_stores().values()),
        references=list(
            dict.fromkeys(r["reference_store"] for r in plan.robustness_runs())
        ),
    output:
        **plan.robustness_outputs,
    log:
        plan.tagged("logs/conformer_robustness", "log"),
    benchmark:
        plan.tagged("benchmarks/conformer_robustness", "tsv")
    priority: ROBUSTNESS_PRIORITY
    threads: config["mumo"]["threads"]
    params:
        runs=plan.robustness_runs(),
        sets=plan.robustness_sets(),
        stores=plan.robustness_stores(),
        headline=plan.headline_metrics(),
        batch_size=config["robustness"]["batch_size"],
    script:
        "../workflow/scripts/conformer_robustness.py"


rule robustness_figure:
    input:
        molecules=plan.robustness_outputs["molecules"],
        summary=plan.robustness_outputs["summary"],
    output:
        png=report(
            f"{FIGURES}/conformer_robustness.png",
            caption="../workflow/report/conformer_robustness.rst",
            category="Figures",
            labels={"figure": "conformer robustness"},
        ),
        pdf=f"{FIGURES}/conformer_robustness.pdf",
    log:
        f"{RESULTS}/logs/figures{plan.tag_dir}/conformer_robustness.log",
    benchmark:
        f"{RESULTS}/benchmarks/figures{plan.tag_dir}/conformer_robustness.tsv"
    params:
        preset=config["mumo"]["preset"],
    script:
        "../workflow/scripts/robustness_figure.py"
