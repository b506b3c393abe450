from mumo.logs import log_to_file
from mumo.steps.data import build_vocab

log_to_file(snakemake.log[0])
build_vocab(
    [snakemake.input.corpus, *snakemake.input.tables],
    snakemake.output[0],
    list(snakemake.params.raw_tables),
)
