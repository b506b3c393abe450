from mumo.logs import log_to_file
from mumo.steps.scores import aggregate_table

log_to_file(snakemake.log[0])
aggregate_table(list(snakemake.input), snakemake.output[0])
