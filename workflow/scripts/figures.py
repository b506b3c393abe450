from pathlib import Path

from mumo.logs import log_to_file
from mumo.steps.figures import figures

log_to_file(snakemake.log[0])
stem = Path(snakemake.output.png).with_suffix("")
figures(
    snakemake.input[0],
    dict(snakemake.params.headline),
    stem,
    snakemake.wildcards.figure,
    snakemake.params.preset,
    budget=snakemake.params.budget,
)
