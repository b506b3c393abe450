from mumo.logs import log_to_file
from mumo.steps.data import split_file

log_to_file(snakemake.log[0])
wc = snakemake.wildcards
split_file(
    snakemake.input[0],
    wc.split,
    int(wc.seed),
    list(snakemake.params.fractions),
    snakemake.output[0],
    dataset=wc.dataset,
)
