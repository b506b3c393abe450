from mumo.logs import log_to_file
from mumo.steps.scores import evaluate_run

log_to_file(snakemake.log[0])
wc = snakemake.wildcards
run = {"model": wc.model, "dataset": wc.dataset, "split": wc.split, "seed": int(wc.seed)}
evaluate_run(
    snakemake.input.predictions, snakemake.input.split, snakemake.params.dataset, run, snakemake.output[0]
)
