"""The authors' own train/validation/test files, read from their Hugging Face hub dataset (split `authors`).

The hub dataset holds one configuration per task, as `datasets.DatasetDict.push_to_hub(repo, config_name=...)`
writes it: parquet files `<config>/<split>-NNNNN-of-NNNNN.parquet` and a dataset card `README.md` whose YAML
front matter lists each configuration's data files per split. Only the card and the parquet files of the
configurations asked for are fetched, with `huggingface_hub.hf_hub_download`, into
`<downloads>/hub/<owner>+<name>/<revision>/`. A split's files are those its card patterns match that are named
as `push_to_hub` names its shards (`train-00000-of-00002.parquet`, one complete set); a stray that a pattern
also matches (`train-00000-of-00001.parquet.bak`, a copy) is not read, with a warning. Every file is read
and checked first (the card parses; a parquet opens, has the expected columns and at least one row), then its
SHA-256 is recorded on first sight in `<downloads>/hub/checksums.json` and checked ever after: as for
downloads (`mumo.data.download`), a garbled first file must never become the trusted one.

Revision: a pinned one (registry or `download.hub_revision`), else the branch's commit is resolved once,
recorded in `<downloads>/hub_revisions.json` and used from then on. With `download.hub_mirror: DIR` (a folder
in the same layout, for machines without internet and for the tests) no network call is made; its revision
is the pinned one, or "mirror" when none is pinned.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path, PurePosixPath
from typing import TypeVar

import pandas as pd
import yaml

from mumo.data.download import CHECKSUMS, verify_checksum
from mumo.data.registry import AUTHORS_HUB_REPO, AUTHORS_HUB_REVISION, DatasetSpec
from mumo.io import write_text_atomic

log = logging.getLogger(__name__)
T = TypeVar("T")

CARD = "README.md"
REVISIONS = "hub_revisions.json"
MIRROR_REVISION = "mirror"
FOLD_OF_SPLIT = {"train": "train", "validation": "valid", "test": "test"}  # hub split -> our fold
FOLD_COLUMN = "authors_set"
SHARD = re.compile(r"(?P<stem>.+)-(?P<index>\d{5})-of-(?P<total>\d{5})\.parquet")  # push_to_hub's names
GLOB = re.compile(r"[*?\[]")


class HubError(ValueError):
    """The hub dataset does not hold what the registry expects; the message names file, config or column."""


@dataclass(frozen=True)
class HubSource:
    """Which hub dataset, at which revision, and an optional offline mirror folder."""

    repo: str = AUTHORS_HUB_REPO
    revision: str | None = AUTHORS_HUB_REVISION
    mirror: str | None = None

    @classmethod
    def from_config(cls, download: dict) -> HubSource:
        """From the config's `download` section (`hub_repo`, `hub_revision`, `hub_mirror`)."""
        return cls(
            download.get("hub_repo") or AUTHORS_HUB_REPO,
            download.get("hub_revision") or AUTHORS_HUB_REVISION,
            download.get("hub_mirror"),
        )


def parse_card(text: str, where: str) -> dict[str, dict[str, list[str]]]:
    """configuration -> hub split -> data-file patterns, from a dataset card's YAML front matter."""
    parts = text.split("---\n")
    if not text.startswith("---\n") or len(parts) < 3:
        raise HubError(f"{where}: no YAML front matter (a dataset card starts with a '---' block)")
    meta = yaml.safe_load(parts[1]) or {}
    configs = {}
    for entry in meta.get("configs") or []:
        files = entry.get("data_files") or []
        if isinstance(files, str | dict):  # a single pattern, or one {split, path}
            files = [files if isinstance(files, dict) else {"split": "train", "path": files}]
        splits: dict[str, list[str]] = {}
        for item in files:
            paths = item["path"]
            splits.setdefault(item.get("split", "train"), []).extend(
                [paths] if isinstance(paths, str) else paths
            )
        configs[entry["config_name"]] = splits
    if not configs:
        raise HubError(f"{where}: the dataset card lists no configurations ('configs:' is empty or missing)")
    return configs


def _from_hub(source: HubSource, what: str, call: Callable[[], T]) -> T:
    """A request to the hub; a failure (no network, an unknown repo or revision) becomes one line naming the
    hub and the offline way round, instead of the client's long chained traceback."""
    try:
        return call()
    except Exception as error:  # the client's errors differ across huggingface_hub versions (requests, httpx)
        reason = (str(error).strip().splitlines() or [""])[0][:80]
        raise HubError(
            f"cannot {what} of {source.repo} from the Hugging Face hub ({type(error).__name__}: {reason}); "
            "without network, set download.hub_mirror to a copy of it"
        ) from None


def resolve_revision(source: HubSource, downloads_dir: Path) -> str:
    """The pinned revision; else the commit recorded on first use (resolved from the hub then)."""
    if source.revision:
        return source.revision
    if source.mirror:
        return MIRROR_REVISION
    path = downloads_dir / REVISIONS
    known = json.loads(path.read_text()) if path.exists() else {}
    if source.repo not in known:
        from huggingface_hub import HfApi

        info = _from_hub(
            source, "resolve the revision", lambda: HfApi().dataset_info(source.repo, revision="main")
        )
        known[source.repo] = info.sha
        write_text_atomic(path, json.dumps(known, indent=2, sort_keys=True) + "\n")
    return known[source.repo]


def _hub_file(
    source: HubSource, revision: str, name: str, downloads_dir: Path, read: Callable[[Path], T]
) -> tuple[T, str]:
    """What `read` made of a file of the hub dataset (mirror or download), and the file's SHA-256. `read` checks
    the content before the hash is recorded (first sight) or compared with the recorded one; a downloaded
    file it refuses is removed, so the next run fetches it again."""
    if source.mirror:
        local = Path(source.mirror) / name
        if not local.is_file():
            raise HubError(f"{local}: not found in the hub mirror {source.mirror}")
    else:
        from huggingface_hub import hf_hub_download

        folder = downloads_dir / "hub" / source.repo.replace("/", "+") / revision
        local = Path(
            _from_hub(
                source,
                f"download {name}",
                lambda: hf_hub_download(
                    source.repo, name, repo_type="dataset", revision=revision, local_dir=folder
                ),
            )
        )
    try:
        content = read(local)
    except HubError as error:
        if not source.mirror:
            local.unlink()
        raise HubError(f"{error}; its hash is not recorded in {downloads_dir / 'hub' / CHECKSUMS}") from None
    return content, verify_checksum(local, f"{source.repo}@{revision}/{name}", downloads_dir / "hub")


def _read_parquet(path: Path, columns: list[str]) -> pd.DataFrame:
    """A hub data file as a table, refused (naming it) if it does not open, lacks a column or has no rows."""
    try:
        frame = pd.read_parquet(path)
    except Exception as error:  # pyarrow's errors for a garbled or truncated file are of several kinds
        raise HubError(f"{path}: not a readable parquet file ({type(error).__name__}: {error})") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise HubError(f"{path}: no column(s) {missing}; columns present: {list(frame.columns)}")
    if frame.empty:
        raise HubError(f"{path}: no rows")
    return frame


def _repo_files(source: HubSource, revision: str) -> list[str]:
    if source.mirror:
        root = Path(source.mirror)
        return [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()]
    from huggingface_hub import HfApi

    return _from_hub(
        source,
        "list the files",
        lambda: HfApi().list_repo_files(source.repo, repo_type="dataset", revision=revision),
    )


def split_files(in_repo: list[str], patterns: list[str], where: str) -> list[str]:
    """The data files of one split: each name the card gives exactly, and for a glob pattern the files it
    matches that are push_to_hub shards, one complete set (`NNNNN-of-MMMMM` for every NNNNN < MMMMM). A stray
    that a glob also matches (a `.bak`, a copy) is not read, with a warning: it would double rows quietly."""
    exact = [p for p in patterns if not GLOB.search(p)]
    missing = [p for p in exact if p not in in_repo]
    if missing:
        raise HubError(f"{where}: the card lists {missing}, not in the repository")
    globs = [p for p in patterns if GLOB.search(p)]
    matched = sorted({n for n in in_repo if any(fnmatch(n, p) for p in globs)} - set(exact))
    shards = {n: SHARD.fullmatch(PurePosixPath(n).name) for n in matched}
    strays = [n for n, m in shards.items() if m is None]
    if strays:
        log.warning("%s: %s match %s but are not data shards: not read", where, strays, globs)
    sets = {(str(PurePosixPath(n).parent), m["stem"], m["total"]) for n, m in shards.items() if m}
    if len(sets) > 1:
        raise HubError(f"{where}: {sorted(shards)} hold {len(sets)} sets of shards; {globs} must select one")
    names = sorted(n for n, m in shards.items() if m)
    for folder, stem, total in sets:
        wanted = {f"{folder}/{stem}-{i:05d}-of-{total}.parquet".removeprefix("./") for i in range(int(total))}
        if set(names) != wanted:
            raise HubError(f"{where}: shard(s) {sorted(wanted - set(names))} missing beside {names}")
    if not exact and not names:
        raise HubError(f"{where}: no data file matches {patterns}")
    return sorted({*exact, *names})


def fetch_config(
    source: HubSource, config: str, downloads_dir: str | Path, columns: list[str]
) -> tuple[str, dict[str, list[tuple[str, pd.DataFrame, str]]]]:
    """(revision, hub split -> [(file name in the repo, its table, SHA-256)]) of one configuration, each
    table read and checked for `columns` and rows before its hash is trusted."""
    downloads_dir = Path(downloads_dir)
    revision = resolve_revision(source, downloads_dir)
    where = f"{source.mirror or source.repo}@{revision}"
    card, _ = _hub_file(
        source, revision, CARD, downloads_dir, lambda path: parse_card(path.read_text(), f"{where}/{CARD}")
    )
    if config not in card:
        raise HubError(
            f"{where}: no configuration {config!r}; the dataset card lists: {', '.join(sorted(card))}"
        )
    missing = [split for split in FOLD_OF_SPLIT if split not in card[config]]
    if missing:
        raise HubError(
            f"{where}: configuration {config!r} has no split(s) {missing}; splits: {sorted(card[config])}"
        )
    files, in_repo = {}, _repo_files(source, revision)
    read = lambda path: _read_parquet(path, columns)  # noqa: E731
    for split in FOLD_OF_SPLIT:
        names = split_files(in_repo, card[config][split], f"{where} ({config!r}, split {split!r})")
        files[split] = [(name, *_hub_file(source, revision, name, downloads_dir, read)) for name in names]
    return revision, files


def read_authors(
    spec: DatasetSpec, tasks: list[str], source: HubSource, downloads_dir: str | Path
) -> tuple[pd.DataFrame, dict]:
    """The authors' rows exactly, in their order (train, validation, test): `smiles` as given, our task
    columns from theirs, and `authors_set` (train | valid | test); plus a provenance record."""
    if spec.hub is None:
        raise HubError(f"dataset {spec.name!r} has no configuration in the authors' hub dataset")
    columns = {spec.hub.column_of(task): task for task in tasks}
    parts, checksums = [], {}
    where = f"{spec.name!r} (configuration {spec.hub.config!r})"
    try:
        revision, files = fetch_config(source, spec.hub.config, downloads_dir, ["smiles", *columns])
    except HubError as error:
        raise HubError(f"{error} [dataset {where}]") from None
    for split, fold in FOLD_OF_SPLIT.items():
        for name, frame, digest in files[split]:
            part = frame[["smiles", *columns]].rename(columns=columns)
            parts.append(part.astype({"smiles": "string"}).assign(**{FOLD_COLUMN: fold}))
            checksums[name] = digest
    table = pd.concat(parts, ignore_index=True)
    provenance = {
        "hub_repo": source.repo,
        "hub_config": spec.hub.config,
        "hub_revision": revision,
        "hub_mirror": source.mirror,
        "files": checksums,
        "rows": {fold: int((table[FOLD_COLUMN] == fold).sum()) for fold in FOLD_OF_SPLIT.values()},
    }
    return table, provenance
