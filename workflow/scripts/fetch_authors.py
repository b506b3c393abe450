from mumo.logs import log_to_file
from mumo.steps.data import fetch_authors

log_to_file(snakemake.log[0])
p, out = snakemake.params, snakemake.output
fetch_authors(p.dataset, p.hub, p.download_dir, out.table, out.provenance)
