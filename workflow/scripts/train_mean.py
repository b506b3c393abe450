from mumo.logs import log_to_file
from mumo.steps.baseline import train_mean

log_to_file(snakemake.log[0])
inp = snakemake.input
train_mean(inp.table, inp.split, snakemake.params.dataset, snakemake.output[0])
