from mumo.logs import log_to_file
from mumo.steps.baseline import ecfp_file

log_to_file(snakemake.log[0])
ecfp_file(snakemake.input[0], snakemake.output[0], snakemake.params.n_bits, snakemake.params.radius)
