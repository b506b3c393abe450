from pathlib import Path

from mumo.logs import log_to_file
from mumo.train.recipes import FinetuneData, run_finetune

log_to_file(snakemake.log[0])
inp, p = snakemake.input, snakemake.params
weights = list(inp.pretrained)
pretrained = str(Path(weights[0]).parent) if weights else None
data = FinetuneData(
    inp.table,
    inp.split,
    list(inp.shards),
    inp.vocab,
    list(p.dataset.tasks),
    p.dataset.spec.task_type,
    fragments=p.fragments,
    conformer=dict(p.conformer),
)
run_finetune(
    data,
    seed=int(snakemake.wildcards.seed),
    settings=dict(p.settings),
    out_predictions=snakemake.output[0],
    out_dir=p.out_dir,
    pretrained_dir=pretrained,
    threads=snakemake.threads,
)
