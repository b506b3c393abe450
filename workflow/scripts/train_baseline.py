# the rules train_mean, train_ecfp_rf and train_chemprop: every seed of one (dataset, split)
from mumo.logs import log_to_file
from mumo.steps.baseline import baseline_seeds
from mumo.steps.seeds import SeedRun

log_to_file(snakemake.log[0])
wc = snakemake.wildcards
baseline_seeds(
    [SeedRun(**run) for run in snakemake.params.runs],
    table=snakemake.input.table,
    features=snakemake.input.get("features"),
    dataset=snakemake.params.dataset,
    settings=dict(snakemake.params.get("settings", {})),
    threads=snakemake.threads,
    run={"model": snakemake.params.model, "dataset": wc.dataset, "split": wc.split},
    out_record=snakemake.output[0],
)
