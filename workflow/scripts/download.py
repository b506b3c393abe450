from mumo.logs import log_to_file
from mumo.steps.data import download

log_to_file(snakemake.log[0])
download(snakemake.params.upstream, snakemake.output[0], snakemake.params.mirror, snakemake.params.retries)
