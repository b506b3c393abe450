from mumo.logs import log_to_file
from mumo.steps.robustness import RobustnessRun, conformer_robustness

log_to_file(snakemake.log[0])
params = snakemake.params
conformer_robustness(
    [RobustnessRun(**run) for run in params.runs],
    list(params.sets),
    dict(params.stores),
    dict(params.headline),
    threads=snakemake.threads,
    batch_size=params.batch_size,
    outputs=dict(snakemake.output.items()),
)
