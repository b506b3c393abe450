from mumo.logs import log_to_file
from mumo.steps.finetune import FinetuneInputs, finetune_seeds
from mumo.steps.seeds import SeedRun

log_to_file(snakemake.log[0])
inp, p, wc = snakemake.input, snakemake.params, snakemake.wildcards
finetune_seeds(
    [SeedRun(**run) for run in p.runs],
    inputs=FinetuneInputs(inp.table, list(inp.shards), inp.vocab, list(inp.pretrained)),
    dataset=p.dataset,
    settings=dict(p.settings),
    threads=snakemake.threads,
    featurized={"fragments": p.fragments, "conformer": dict(p.conformer)},
    run={"model": wc.model, "dataset": wc.dataset, "split": wc.split},
    out_record=snakemake.output[0],
)
