from pathlib import Path

from mumo.logs import log_to_file
from mumo.steps.figures import finetune_curves, pretrain_curves

log_to_file(snakemake.log[0])
draw = {"pretrain": pretrain_curves, "finetune": finetune_curves}[snakemake.wildcards.stage]
draw(list(snakemake.params.files), Path(snakemake.output.png).with_suffix(""), snakemake.params.preset)
