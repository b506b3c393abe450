from mumo.logs import log_to_file
from mumo.steps.structure import structure_shard

log_to_file(snakemake.log[0])
params = snakemake.params
shard, n_shards = params.sharding
structure_shard(
    list(snakemake.input),
    shard,
    n_shards,
    dict(params.conformer),
    snakemake.threads,
    snakemake.output.npz,
    snakemake.output.report,
    params.cache_dir,
    list(params.raw_tables),
)
