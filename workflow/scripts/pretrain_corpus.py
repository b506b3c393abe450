from mumo.logs import log_to_file
from mumo.steps.data import pretrain_corpus

log_to_file(snakemake.log[0])
p = snakemake.params
pretrain_corpus(
    p.corpus,
    dict(p.options),
    list(snakemake.input.tables),
    p.download_dir,
    p.mirror,
    snakemake.output.corpus,
    snakemake.output.rejected,
)
