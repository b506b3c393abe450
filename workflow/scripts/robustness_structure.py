from mumo.logs import log_to_file
from mumo.steps.structure import robustness_structures

log_to_file(snakemake.log[0])
params = snakemake.params
robustness_structures(
    {table: list(splits) for table, splits in params.test_folds.items()},
    dict(params.conformer),
    snakemake.threads,
    out_npz=snakemake.output.npz,
    out_report=snakemake.output.report,
    cache_dir=params.cache_dir,
    raw_csvs=list(params.raw_tables),
)
