"""Atomic file output (a reader never sees a half-written file, an interrupted writer leaves none), file
digests, and output folders that belong to the command that writes them (`owned_output`)."""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mumo import __version__

if TYPE_CHECKING:  # for the type hint only: mumo.io itself never needs pandas
    import pandas as pd

logger = logging.getLogger(__name__)

#: hidden files of an output folder: which command wrote it, and the lock of the run writing it now
OWNER_NAME, LOCK_NAME = ".mumo-output.json", ".mumo-output.lock"


def sha256sum(path: str | os.PathLike) -> str:
    """The SHA-256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        make_readable(tmp_path)  # after the writer: some (safetensors) replace the file with a 0600 one
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def make_readable(path: str | os.PathLike) -> None:
    """Give a finished file the mode of any new file under the umask (0644 under 022, 0640 under 027).

    Temporary files (mkstemp, pooch's downloads) and some writers make 0600 files, which colleagues of a
    shared group could not read.
    """
    os.chmod(path, 0o666 & ~_umask())


def _umask() -> int:
    """The process umask, read without changing it where Linux allows (setting it races with threads)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_csv(frame: pd.DataFrame, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def write_json(data: dict, path: str | os.PathLike) -> None:
    """Indented JSON; numpy scalars (counts, scores) are written as plain numbers."""
    write_text_atomic(path, json.dumps(data, indent=2, default=_json_scalar) + "\n")


def _json_scalar(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value)}")


@contextmanager
def owned_output(directory: str | os.PathLike, command: str, *, replace: bool = False) -> Iterator[Path]:
    """Hold `directory` as the output of `command` (e.g. "mumo train") for the duration of the block.

    A folder that is missing or empty is claimed (`OWNER_NAME` records the command); a non-empty folder that
    `command` did not write is refused, so nothing of another run (old seeds, a stale featurization.json)
    is ever mixed into this one. A folder `command` wrote before is reused (a rerun resumes or extends it)
    or, with `replace`, emptied first, with a log line. A second run into the same folder while one holds it
    is refused with the holder's process id (an OS lock: released when the holder exits, even killed).
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / LOCK_NAME, "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            lock.seek(0)
            holder = lock.read().strip() or "unknown"
            raise RuntimeError(
                f"{out}: another {command} is writing into this folder (process {holder}); wait for it to "
                "finish or choose another --output"
            ) from None
        lock.seek(0)
        lock.truncate()
        lock.write(str(os.getpid()))
        lock.flush()
        _claim(out, command, replace)
        yield out


def output_owner(directory: str | os.PathLike) -> str | None:
    """The command that claimed `directory` with `owned_output`, None for any other folder."""
    path = Path(directory) / OWNER_NAME
    return json.loads(path.read_text()).get("command") if path.is_file() else None


def _claim(out: Path, command: str, replace: bool) -> None:
    """Refuse a folder holding anything `command` did not write; empty it for `replace`; record the owner."""
    # empty folders hold nothing of another run (Snakemake makes its outputs' folders before a job starts)
    entries = sorted(
        p.name for p in out.iterdir() if p.name != LOCK_NAME and not (p.is_dir() and not any(p.iterdir()))
    )
    owner = output_owner(out)
    if entries and owner != command:
        shown = ", ".join(name for name in entries[:3] if name != OWNER_NAME) + (
            ", ..." if len(entries) > 3 else ""
        )
        by = f"written by {owner}" if owner else f"not written by {command}"
        # nothing of another run may be mixed into this one
        raise FileExistsError(f"{out}: not empty ({shown}) and {by}; choose a new --output or empty it")
    if entries and replace:
        logger.warning("%s: replacing what an earlier %s wrote there", out, command)
        for name in entries:
            path = out / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
    if not (out / OWNER_NAME).exists():
        write_json({"command": command, "mumo": __version__}, out / OWNER_NAME)
