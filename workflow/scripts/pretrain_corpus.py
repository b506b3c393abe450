from mumo.logs import log_to_file
from mumo.steps.data import pretrain_corpus

log_to_file(snakemake.log[0])
p = snakemake.params
pretrain_corpus(
    p.corpus,
    dict(p.options),
    list(snakemake.input.tables),
    download_dir=p.download_dir,
    mirror=p.mirror,
    out_csv=snakemake.output.corpus,
    rejected_csv=snakemake.output.rejected,
)
