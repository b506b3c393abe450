rule download:
    output:
        f"{RESULTS}/data/downloads/{{filename}}",
    log:
        f"{RESULTS}/logs/download/{{filename}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/download/{{filename}}.tsv"
    params:
        upstream=lambda wc: plan.upstream_by_filename(wc.filename),
        mirror=config["download"]["mirror"],
        retries=config["download"]["retries"],
    script:
        "../workflow/scripts/download.py"


rule fetch_dataset:
    input:
        lambda wc: plan.download_for(wc.dataset),
    output:
        f"{RESULTS}/data/raw/{{dataset}}.csv",
    log:
        f"{RESULTS}/logs/fetch_dataset/{{dataset}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/fetch_dataset/{{dataset}}.tsv"
    priority: PRETRAINING_CHAIN_PRIORITY
    params:
        dataset=resolved,
        download_dir=f"{RESULTS}/data/downloads",
        mirror=config["download"]["mirror"],
    script:
        "../workflow/scripts/fetch_dataset.py"


rule fetch_authors:
    output:
        table=f"{RESULTS}/data/raw/{{dataset}}.authors.csv",
        provenance=f"{RESULTS}/data/raw/{{dataset}}.authors.json",
    log:
        f"{RESULTS}/logs/fetch_authors/{{dataset}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/fetch_authors/{{dataset}}.tsv"
    params:
        dataset=resolved,
        hub=plan.hub,
        download_dir=f"{RESULTS}/data/downloads",
    script:
        "../workflow/scripts/fetch_authors.py"


rule standardise_authors:
    input:
        table=f"{RESULTS}/data/raw/{{dataset}}.authors.csv",
        provenance=f"{RESULTS}/data/raw/{{dataset}}.authors.json",
    output:
        table=f"{RESULTS}/data/standardised/{{dataset}}.authors.csv",
        rejected=f"{RESULTS}/data/standardised/{{dataset}}.authors.rejected.csv",
        counts=f"{RESULTS}/data/standardised/{{dataset}}.authors.counts.json",
    log:
        f"{RESULTS}/logs/standardise_authors/{{dataset}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/standardise_authors/{{dataset}}.tsv"
    params:
        dataset=resolved,
        fragments=config["standardise"]["fragments"],
    script:
        "../workflow/scripts/standardise.py"


rule standardise:
    input:
        table=f"{RESULTS}/data/raw/{{dataset}}.csv",
    output:
        table=f"{RESULTS}/data/standardised/{{dataset}}.csv",
        rejected=f"{RESULTS}/data/standardised/{{dataset}}.rejected.csv",
        counts=f"{RESULTS}/data/standardised/{{dataset}}.counts.json",
    log:
        f"{RESULTS}/logs/standardise/{{dataset}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/standardise/{{dataset}}.tsv"
    priority: PRETRAINING_CHAIN_PRIORITY
    params:
        dataset=resolved,
        fragments=config["standardise"]["fragments"],
    script:
        "../workflow/scripts/standardise.py"


rule split:
    input:
        lambda wc: plan.split_table(wc.dataset, wc.split),
    output:
        f"{RESULTS}/data/splits/{{dataset}}/{{split}}/seed{{seed}}.json",
    log:
        f"{RESULTS}/logs/split/{{dataset}}/{{split}}/seed{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/split/{{dataset}}/{{split}}/seed{{seed}}.tsv"
    priority: PRETRAINING_CHAIN_PRIORITY
    params:
        fractions=config["split_fractions"],
    script:
        "../workflow/scripts/split.py"


rule data_report:
    input:
        plan.counts_files(),
    output:
        report(
            plan.data_report,
            caption="../workflow/report/data_report.rst",
            category="Data",
        ),
    log:
        plan.tagged("logs/data_report", "log"),
    benchmark:
        plan.tagged("benchmarks/data_report", "tsv")
    script:
        "../workflow/scripts/data_report.py"
