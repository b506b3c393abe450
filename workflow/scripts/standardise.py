from mumo.logs import log_to_file
from mumo.steps.data import standardise_file

log_to_file(snakemake.log[0])
out = snakemake.output
standardise_file(
    snakemake.input.table,
    snakemake.params.dataset,
    snakemake.params.fragments,
    out_csv=out.table,
    rejected_csv=out.rejected,
    counts_json=out.counts,
    provenance_json=snakemake.input.get("provenance"),
)
