import os
import stat

import numpy as np
import pytest
from safetensors.numpy import save_file

from mumo.io import atomic_path, write_json


@pytest.fixture(params=[0o022, 0o027])
def umask(request):
    previous = os.umask(request.param)
    yield request.param
    os.umask(previous)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_atomic_outputs_follow_the_umask_even_when_the_writer_replaces_the_file(tmp_path, umask):
    """safetensors writes a fresh 0600 file over the temporary one; the group must still read weights."""
    with atomic_path(tmp_path / "model.safetensors") as tmp:
        save_file({"w": np.zeros(2, dtype=np.float32)}, str(tmp))
    write_json({"a": 1}, tmp_path / "config.json")
    assert _mode(tmp_path / "model.safetensors") == 0o666 & ~umask
    assert _mode(tmp_path / "config.json") == 0o666 & ~umask
