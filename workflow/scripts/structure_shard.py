from mumo.logs import log_to_file
from mumo.steps.structure import structure_shard

log_to_file(snakemake.log[0])
params = snakemake.params
structure_shard(
    list(snakemake.input),
    params.sharding,
    dict(params.conformer),
    snakemake.threads,
    out_npz=snakemake.output.npz,
    out_report=snakemake.output.report,
    cache_dir=params.cache_dir,
    raw_csvs=list(params.raw_tables),
)
