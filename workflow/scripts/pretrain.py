from mumo.logs import log_to_file
from mumo.train.recipes import run_pretrain

log_to_file(snakemake.log[0])
inp, p = snakemake.input, snakemake.params
run_pretrain(inp.corpus, p.store, inp.vocab, p.out_dir, dict(p.settings), threads=snakemake.threads)
