# one store file per standardised table (`datasets/{table}`) and `structure.n_shards` for the pretraining
# corpus (`corpus/shard{k}`), so that a job declares the structures it reads; the cache computes each
# molecule once across files
rule structure_shard:
    input:
        lambda wc: plan.structure_source(wc.part),
    output:
        npz=f"{RESULTS}/structure/{{part}}.npz",
        report=f"{RESULTS}/structure/{{part}}.report.csv",
    log:
        f"{RESULTS}/logs/structure_shard/{{part}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/structure_shard/{{part}}.tsv"
    wildcard_constraints:
        part=StorePart.PATTERN,
    priority: lambda wc: schedule.structure(wc.part)
    threads: config["structure"]["threads"]
    params:
        sharding=lambda wc: plan.structure_sharding(wc.part),
        conformer=config["structure"]["conformer"],
        cache_dir=f"{RESULTS}/structure/cache",
        raw_tables=lambda wc: plan.structure_raw_tables(wc.part),
    script:
        "../workflow/scripts/structure_shard.py"


rule structure_report:
    input:
        tables=list(plan.tables().values()),
        reports=plan.structure_shard_reports(),
    output:
        report(
            plan.structure_report,
            caption="../workflow/report/structure_report.rst",
            category="Data",
        ),
    log:
        plan.tagged("logs/structure_report", "log"),
    benchmark:
        plan.tagged("benchmarks/structure_report", "tsv")
    params:
        datasets=list(plan.tables()),
    script:
        "../workflow/scripts/structure_report.py"
