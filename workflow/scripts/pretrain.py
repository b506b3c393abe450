from pathlib import Path

from mumo.logs import log_to_file
from mumo.train.launch import gpu_count, launch_pretrain
from mumo.train.recipes import PretrainData

log_to_file(snakemake.log[0])
inp, out, p = snakemake.input, snakemake.output, snakemake.params
launch_pretrain(
    PretrainData(inp.corpus, list(inp.shards), inp.vocab, dict(p.conformer)),
    str(Path(out.weights).parents[1]),
    dict(p.settings),
    threads=snakemake.threads,
    processes=max(1, gpu_count(snakemake.resources)),  # one rank per GPU of the job
    log_path=snakemake.log[0],
)
