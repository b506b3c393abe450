from pathlib import Path

from mumo.logs import log_to_file
from mumo.train.launch import gpu_count, launch_pretrain
from mumo.train.recipes import PretrainData

log_to_file(snakemake.log[0])
inp, out = snakemake.input, snakemake.output
# the shards' settings are read from the config, not a rule param: a new param would rerun every pretraining
# of an existing results folder, while a change of these settings reruns it anyway (through the shards)
conformer = dict(snakemake.config["structure"]["conformer"])
launch_pretrain(
    PretrainData(inp.corpus, list(inp.shards), inp.vocab, conformer),
    str(Path(out.weights).parents[1]),
    dict(snakemake.params.settings),
    threads=snakemake.threads,
    processes=max(1, gpu_count(snakemake.resources)),  # one rank per GPU of the job
    log_path=snakemake.log[0],
)
