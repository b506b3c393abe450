"""Download upstream files with retries, a progress bar, checksum verification and an atomic rename.

pooch does the transfer: it streams into a temporary file beside the target, checks the hash and only then
moves the file into place, so a failed or corrupt download leaves nothing behind. Files without a published
checksum are trusted on first download: their SHA-256 is written to `checksums.json` beside them and every
later download must match it. Because that first hash is trusted for good, the first file must first pass a
content check for its kind (a complete gzip or zip, not an HTML error page, a header with the expected
columns); otherwise a truncated file or an error page would be recorded and the real file refused forever.
"""

from __future__ import annotations

import csv
import gzip
import json
import logging
import time
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pooch

from mumo.io import make_readable, sha256sum, write_text_atomic

log = logging.getLogger(__name__)

CHECKSUMS = "checksums.json"


class DownloadError(RuntimeError):
    """A download failed for good; the message says which URL and why."""


def recorded_checksums(dest_dir: Path) -> dict[str, str]:
    """The SHA-256 recorded per file name in `dest_dir/checksums.json` (empty if none yet)."""
    path = dest_dir / CHECKSUMS
    return json.loads(path.read_text()) if path.exists() else {}


def record_checksum(dest_dir: Path, filename: str, digest: str) -> None:
    known = recorded_checksums(dest_dir)
    known[filename] = digest
    write_text_atomic(dest_dir / CHECKSUMS, json.dumps(known, indent=2, sort_keys=True) + "\n")


def content_problem(path: str | Path, columns: Sequence[str] = ()) -> str:
    """'' if the file is what its name says (zip, gzip, text table with `columns` in its header), else why not."""
    path = Path(path)
    if path.name.endswith(".zip"):
        try:
            with zipfile.ZipFile(path) as archive:
                corrupt = archive.testzip()
        except zipfile.BadZipFile:
            return "not a valid zip archive"
        return f"zip member {corrupt} is corrupt" if corrupt else ""
    compressed = path.name.endswith(".gz")
    try:
        with gzip.open(path, "rb") if compressed else open(path, "rb") as handle:
            first = handle.readline(1 << 20)
            while compressed and handle.read(1 << 20):  # reading to the end checks the gzip's length and CRC
                pass
    except (OSError, EOFError, zlib.error):
        return "not a complete gzip file (truncated, or not gzip at all)"
    line = first.decode("utf-8", "replace").strip().lstrip("\ufeff")
    if line.lower().startswith(("<!doctype html", "<html")):
        return "an HTML page, not data (a server error page?)"
    header = next(csv.reader([line], delimiter="\t" if "\t" in line else ","), [])
    missing = [c for c in columns if c not in header]
    return f"no column(s) {missing} in its header {header[:10]}" if missing else ""


def _trust(target: Path, source: str, columns: Sequence[str]) -> None:
    """Record the hash of a first download, only once its content passed the check for its kind."""
    problem = content_problem(target, columns)
    if problem:
        target.unlink()
        raise DownloadError(
            f"{target.name}: downloaded from {source} but {problem}; it was removed and its hash not recorded "
            f"in {target.parent / CHECKSUMS}. Try again later, or check the URL"
        )
    record_checksum(target.parent, target.name, sha256sum(target))


def _mismatch_help(filename: str, dest_dir: Path, expected: str, pinned: bool) -> str:
    if pinned:
        return f"{filename}: its SHA-256 is pinned in mumo/data/registry.py as {expected}; the upstream file changed"
    return (
        f"{filename}: the first download's SHA-256 {expected} is recorded in {dest_dir / CHECKSUMS}. If the "
        f"upstream file changed on purpose (or that first download was bad), remove the entry {filename!r} "
        "from that file and run again to trust the new content"
    )


def verify_checksum(path: Path, key: str, dest_dir: Path) -> str:
    """Trust on first sight: record `path`'s SHA-256 under `key` in `dest_dir/checksums.json`, or check it
    against the recorded one. A mismatch raises DownloadError naming the file and both hashes."""
    actual = sha256sum(path)
    expected = recorded_checksums(dest_dir).get(key)
    if expected is None:
        record_checksum(dest_dir, key, actual)
    elif actual != expected:
        raise DownloadError(
            f"{path}: SHA-256 {actual} does not match {expected} recorded for {key!r} in {dest_dir / CHECKSUMS}"
        )
    return actual


def mirrored(url: str, mirror: str | None) -> str:
    """Replace everything before the file name by `mirror` (for offline clusters and tests)."""
    if not mirror:
        return url
    return mirror.rstrip("/") + "/" + url.rstrip("/").rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Transfer:
    """How a file is fetched, apart from which file: the config's `download` section sets the first two."""

    mirror: str | None = None  # a folder or URL that replaces everything before the file name
    retries: int = 3  # network errors are retried this many times, with exponential backoff
    backoff_s: float = 1.0  # the first wait; each later one doubles
    timeout_s: float = 60.0
    progressbar: bool = True


def fetch(
    url: str,
    filename: str,
    dest_dir: str | Path,
    sha256: str | None = None,
    *,
    columns: Sequence[str] = (),
    transfer: Transfer | None = None,
) -> Path:
    """Download `url` to `dest_dir/filename` unless a verified copy is there; return its path.

    The expected hash is `sha256` if given, else the one recorded on the first download. A mismatch raises
    DownloadError and leaves no file. Network errors are retried as `transfer` says (default: Transfer()).
    A first download (no hash known) must pass `content_problem` with `columns` before its hash is recorded.
    """
    transfer = transfer or Transfer()
    retries = transfer.retries
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    expected = sha256 or recorded_checksums(dest_dir).get(filename)
    target = dest_dir / filename
    source = mirrored(url, transfer.mirror)
    if target.exists():
        actual = sha256sum(target)
        if expected is None or actual == expected:
            if expected is None:
                _trust(target, source, columns)
            return target
        log.warning("%s: checksum %s does not match %s; downloading again", target, actual, expected)
        target.unlink()

    downloader = pooch.HTTPDownloader(progressbar=transfer.progressbar, timeout=transfer.timeout_s)
    last_error: Exception | None = None
    for attempt in range(1, retries + 2):
        try:
            pooch.retrieve(
                source,
                known_hash=f"sha256:{expected}" if expected else None,
                fname=filename,
                path=dest_dir,
                downloader=downloader,
            )
            break
        except ValueError as err:  # pooch raises ValueError on a hash mismatch: retrying will not help
            help_text = _mismatch_help(filename, dest_dir, expected, pinned=sha256 is not None)
            raise DownloadError(f"{source}: {err}\n{help_text}") from err
        except Exception as err:  # network errors, truncated bodies, HTTP errors
            last_error = err
            log.warning("download of %s failed (attempt %d/%d): %s", source, attempt, retries + 1, err)
            if attempt <= retries:
                time.sleep(transfer.backoff_s * 2 ** (attempt - 1))
    else:
        raise DownloadError(f"{source}: giving up after {retries + 1} attempts: {last_error}") from last_error

    make_readable(target)  # pooch moves a 0600 temporary file into place
    if expected is None:
        _trust(target, source, columns)
    return target
