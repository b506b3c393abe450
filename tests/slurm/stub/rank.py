"""One torchrun rank of the stub `pretrain` rule: appends what it was given to the output file."""

import os
import sys
import time

line = " ".join(
    f"{key.lower()}={os.environ.get(key, 'unset')}"
    for key in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "CUDA_VISIBLE_DEVICES", "SLURM_JOB_PARTITION")
)
time.sleep(0.2 * int(os.environ.get("RANK", "0")))  # keep the appends apart
with open(sys.argv[1], "a") as out:
    out.write(line + "\n")
