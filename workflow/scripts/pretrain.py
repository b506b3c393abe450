from pathlib import Path

from mumo.logs import log_to_file
from mumo.train.launch import gpu_count, launch_pretrain

log_to_file(snakemake.log[0])
inp, out = snakemake.input, snakemake.output
launch_pretrain(
    inp.corpus,
    list(inp.shards),
    inp.vocab,
    str(Path(out.weights).parents[1]),
    dict(snakemake.params.settings),
    threads=snakemake.threads,
    processes=max(1, gpu_count(snakemake.resources)),  # one rank per GPU of the job
    log_path=snakemake.log[0],
)
