from mumo.logs import log_to_file
from mumo.steps.baseline import train_ecfp_rf

log_to_file(snakemake.log[0])
inp = snakemake.input
train_ecfp_rf(
    inp.table,
    inp.split,
    inp.features,
    snakemake.params.dataset,
    int(snakemake.wildcards.seed),
    dict(snakemake.params.settings),
    snakemake.threads,
    snakemake.output[0],
)
