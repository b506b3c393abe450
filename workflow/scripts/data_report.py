from mumo.logs import log_to_file
from mumo.steps.data import data_report

log_to_file(snakemake.log[0])
data_report(list(snakemake.input), snakemake.output[0])
