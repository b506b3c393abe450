from mumo.logs import log_to_file
from mumo.steps.data import fetch_raw

log_to_file(snakemake.log[0])
fetch_raw(
    snakemake.params.dataset, snakemake.output[0], snakemake.params.download_dir, snakemake.params.mirror
)
