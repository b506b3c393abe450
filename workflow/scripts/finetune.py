from pathlib import Path

from mumo.logs import log_to_file
from mumo.train.recipes import run_finetune

log_to_file(snakemake.log[0])
inp, p = snakemake.input, snakemake.params
weights = list(inp.pretrained)
pretrained = str(Path(weights[0]).parent) if weights else None
run_finetune(
    inp.table,
    inp.split,
    list(inp.shards),
    inp.vocab,
    list(p.dataset.tasks),
    p.dataset.spec.task_type,
    int(snakemake.wildcards.seed),
    dict(p.settings),
    snakemake.output[0],
    p.out_dir,
    pretrained_dir=pretrained,
    threads=snakemake.threads,
    fragments=p.fragments,
    conformer=dict(p.conformer),
)
