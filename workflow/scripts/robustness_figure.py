from pathlib import Path

from mumo.logs import log_to_file
from mumo.steps.figures import robustness_figure

log_to_file(snakemake.log[0])
robustness_figure(
    snakemake.input.molecules,
    snakemake.input.summary,
    Path(snakemake.output.png).with_suffix(""),
    snakemake.params.preset,
)
