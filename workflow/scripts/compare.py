from mumo.logs import log_to_file
from mumo.steps.scores import compare_models

log_to_file(snakemake.log[0])
compare_models(
    list(snakemake.input),
    dict(snakemake.params.headline),
    snakemake.params.preset,
    snakemake.output[0],
)
