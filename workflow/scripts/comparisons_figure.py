from pathlib import Path

from mumo.logs import log_to_file
from mumo.steps.figures import comparisons_figure

log_to_file(snakemake.log[0])
comparisons_figure(snakemake.input[0], Path(snakemake.output.png).with_suffix(""), snakemake.params.preset)
