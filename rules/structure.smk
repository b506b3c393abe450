rule structure_shard:
    input:
        plan.structure_inputs(),
    output:
        npz=f"{RESULTS}/structure/shard{{shard}}.npz",
        report=f"{RESULTS}/structure/shard{{shard}}.report.csv",
    log:
        f"{RESULTS}/logs/structure_shard/shard{{shard}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/structure_shard/shard{{shard}}.tsv"
    conda:
        "../envs/chem.yaml"
    threads: config["structure"]["threads"]
    params:
        n_shards=config["structure"]["n_shards"],
        conformer=config["structure"]["conformer"],
        cache_dir=f"{RESULTS}/structure/cache",
        raw_tables=plan.raw_smiles_tables(),
    script:
        "../workflow/scripts/structure_shard.py"


rule structure_report:
    input:
        tables=list(plan.tables().values()),
        reports=expand(
            f"{RESULTS}/structure/shard{{shard}}.report.csv",
            shard=range(config["structure"]["n_shards"]),
        ),
    output:
        report(
            f"{RESULTS}/structure_report.csv",
            caption="../workflow/report/structure_report.rst",
            category="Data",
        ),
    log:
        f"{RESULTS}/logs/structure_report.log",
    benchmark:
        f"{RESULTS}/benchmarks/structure_report.tsv"
    conda:
        "../envs/chem.yaml"
    params:
        datasets=list(plan.tables()),
    script:
        "../workflow/scripts/structure_report.py"
