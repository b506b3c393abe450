# the corpus leaves out the molecules of every dataset the config declares, whatever `tasks` keeps
rule pretrain_corpus:
    input:
        tables=list(plan.declared.tables().values()),
        download=plan.corpus_download(),
    output:
        corpus=plan.corpus_csv,
        rejected=plan.corpus_rejected,
    log:
        f"{RESULTS}/logs/pretrain_corpus.log",
    benchmark:
        f"{RESULTS}/benchmarks/pretrain_corpus.tsv"
    priority: PRETRAINING_CHAIN_PRIORITY
    params:
        corpus=lambda wc: plan.corpus(),
        options=config["mumo"]["corpus"],
        download_dir=f"{RESULTS}/data/downloads",
        mirror=config["download"]["mirror"],
    script:
        "../workflow/scripts/pretrain_corpus.py"


rule vocab:
    input:
        corpus=plan.corpus_csv,
        tables=list(plan.declared.tables().values()),
    output:
        plan.vocab_json,
    log:
        f"{RESULTS}/logs/vocab.log",
    benchmark:
        f"{RESULTS}/benchmarks/vocab.tsv"
    priority: PRETRAINING_CHAIN_PRIORITY
    params:
        raw_tables=plan.declared.raw_smiles_tables(),
    script:
        "../workflow/scripts/vocab.py"


rule pretrain:
    input:
        corpus=plan.corpus_csv,
        vocab=plan.vocab_json,
        shards=plan.corpus_shards(),
    output:
        **plan.pretrain_outputs("{model}"),
    log:
        f"{RESULTS}/logs/pretrain/{{model}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/pretrain/{{model}}.tsv"
    priority: lambda wc: schedule.pretrain(wc.model)
    threads: config["mumo"]["threads"]
    params:
        settings=lambda wc: plan.model_settings(wc.model, "pretrain"),
        conformer=config["structure"]["conformer"],
    script:
        "../workflow/scripts/pretrain.py"


# one job per (model, dataset, split): its seeds one after the other in one process (mumo.steps.seeds); only
# the group's record is declared, so a failed job leaves the finished seeds' folders for the rerun to keep
rule finetune:
    input:
        table=lambda wc: plan.split_table(wc.dataset, wc.split),
        splits=lambda wc: plan.split_files(wc.dataset, wc.split, wc.seeds),
        vocab=lambda wc: plan.vocab(wc.model),
        shards=lambda wc: plan.table_shards(wc.dataset, wc.split),
        pretrained=lambda wc: plan.pretrained_weights(wc.model),
    output:
        f"{RESULTS}/runs/{{model}}/{{dataset}}/{{split}}/seeds-{{seeds}}.json",
    log:
        f"{RESULTS}/logs/finetune/{{model}}/{{dataset}}/{{split}}/seeds-{{seeds}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/finetune/{{model}}/{{dataset}}/{{split}}/seeds-{{seeds}}.tsv"
    wildcard_constraints:
        model="mumo[a-z_]*",
    priority: lambda wc: schedule.finetune(wc.model, wc.dataset)
    threads: config["mumo"]["threads"]
    params:
        dataset=resolved,
        settings=lambda wc: plan.model_settings(wc.model, "finetune", wc.dataset),
        runs=lambda wc: plan.seed_runs(
            wc.model,
            wc.dataset,
            wc.split,
            wc.seeds,
            f"{RESULTS}/logs/finetune/{wc.model}/{wc.dataset}/{wc.split}",
        ),
        fragments=config["standardise"]["fragments"],
        conformer=config["structure"]["conformer"],
    script:
        "../workflow/scripts/finetune.py"


# `mumo.pretrained`: the authors' checkpoint, converted once; mumo_paper's finetunes start from it.
rule import_checkpoint:
    output:
        **plan.imported_files,
    log:
        f"{RESULTS}/logs/import_checkpoint.log",
    benchmark:
        f"{RESULTS}/benchmarks/import_checkpoint.tsv"
    params:
        source=plan.imported_source,
        cache_dir=f"{RESULTS}/data/downloads/hub",
    script:
        "../workflow/scripts/import_checkpoint.py"
