from mumo.logs import log_to_file
from mumo.steps.data import standardise_file

log_to_file(snakemake.log[0])
out = snakemake.output
standardise_file(
    snakemake.input.table,
    snakemake.params.dataset,
    snakemake.params.fragments,
    out.table,
    out.rejected,
    out.counts,
    snakemake.input.get("provenance"),
)
