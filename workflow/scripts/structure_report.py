from mumo.logs import log_to_file
from mumo.steps.structure import structure_report

log_to_file(snakemake.log[0])
tables = dict(zip(snakemake.params.datasets, snakemake.input.tables, strict=True))
structure_report(tables, list(snakemake.input.reports), snakemake.output[0])
