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


def test_an_output_folder_belongs_to_the_command_that_wrote_it(tmp_path):
    """A folder with anything another run left is refused; the command's own folder is reused or replaced."""
    from mumo.io import output_owner, owned_output

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(
        FileExistsError, match=r"foreign: not empty \(notes.txt\) and not written by mumo train"
    ):
        with owned_output(foreign, "mumo train"):
            pass
    assert (foreign / "notes.txt").read_text() == "mine"
    with owned_output(tmp_path / "run", "mumo train") as out:
        (out / "seed0").mkdir()
        (out / "seed0" / "done.json").write_text("{}")
    assert output_owner(out) == "mumo train" and output_owner(foreign) is None
    with pytest.raises(FileExistsError, match=r"not empty \(seed0\) and written by mumo train"):
        with owned_output(out, "mumo featurize"):
            pass
    with owned_output(out, "mumo train"):  # a rerun keeps what it wrote
        assert (out / "seed0").is_dir()
    with owned_output(out, "mumo train", replace=True):
        assert not (out / "seed0").exists()


def test_empty_folders_in_an_output_folder_are_not_another_runs_files(tmp_path):
    """Snakemake makes its outputs' folders (a pretraining's `model/`) before the job claims the run's folder."""
    from mumo.io import output_owner, owned_output

    (tmp_path / "pretrain" / "model").mkdir(parents=True)
    with owned_output(tmp_path / "pretrain", "mumo pretrain"):
        pass
    assert output_owner(tmp_path / "pretrain") == "mumo pretrain"


def test_a_second_run_into_a_held_folder_is_refused_with_the_holder(tmp_path):
    from mumo.io import owned_output

    with owned_output(tmp_path / "run", "mumo train"):
        with pytest.raises(
            RuntimeError, match=rf"another mumo train is writing into this folder \(process {os.getpid()}\)"
        ):
            with owned_output(tmp_path / "run", "mumo train"):
                pass
    with owned_output(tmp_path / "run", "mumo train"):  # released when the holder is done
        pass
