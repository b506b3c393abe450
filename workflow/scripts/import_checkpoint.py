from pathlib import Path

from mumo.logs import log_to_file
from mumo.model.import_checkpoint import import_checkpoint

log_to_file(snakemake.log[0])
p = snakemake.params
import_checkpoint(p.source, Path(snakemake.output.record).parent, cache_dir=Path(p.cache_dir))
