"""Structure store: one record per canonical SMILES, computed once, shared by every dataset and pretraining.

Layout. A store is a directory of shard files `*.npz` (or one such file). The pipeline assigns a molecule to
shard `shard_index(canonical_smiles, n_shards)`, so the same molecule always lands in the same shard, and
builds each shard with `build_shard`; readers do not depend on that rule, they index whatever shards exist.

Shard file: `np.savez_compressed`, read with `allow_pickle=False`. Per molecule, each record array is
concatenated with the other molecules' along its ragged axis (atoms, directed bonds, angle edges, ...) in
a compact dtype; `<group>_ptr` (int64 [m+1]) gives each molecule's slice. Strings (smiles,
conformer_source, reason) are UTF-8 bytes plus `<name>_ptr`. Indices are local to the molecule, so a slice
is the record; reading casts back to the record dtypes of graph.py.

Cache. Snakemake deletes a rule's outputs before rerunning it, so reuse cannot come from the old shard.
`build_shard(..., cache_dir=C)` looks records up in `C/<ConformerConfig.digest()>/*.npz` (a store in the same
format; the digest covers every conformer setting and the RDKit version), computes only the misses, and
adds them to that directory as one new file named by the hash of its SMILES. Beside them, `*.keys.tsv`
files map each input spelling seen so far to its canonical key, so a rerun does not parse what it has seen
(the parse is most of a cached rerun's time). Cache files are only ever added, atomically, so concurrent
shard jobs can share one cache. Delete the directory to recompute.

Settings. Every file records the conformer settings and RDKit version it was built with (`settings_utf8`:
JSON of `ConformerConfig.record()`). A reader given the settings it needs (`StructureStore(..., conformer=C)`:
training, `mumo predict`) refuses a file built with others, in one line naming the file and both settings:
mixing them would silently give a model 3D structures computed some other way. A file written before files
recorded their settings is read with a warning naming it: the pipeline rebuilt its shards on any change of
settings, and `mumo train` now names its shards by the settings' digest, so only a store shared by hand can
hold such a file built otherwise. The cache is keyed by its directory (the digest), read without a check.

Integrity. Every shard file is checked when first read: the zip's CRC of each array, then that the pointers
and arrays agree. A corrupt shard the pipeline reads (`StructureStore`) is an error naming the file; a corrupt
cache file is moved aside (`<name>.corrupt-<UTC time>`, with a warning naming it) and its molecules are
recomputed. Each keys line ends with a checksum of its two fields, so a line cut anywhere, even inside a key,
fails its check; a keys file with such a line is moved aside the same way and its spellings are parsed again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import multiprocessing
import os
import sys
import time
import zipfile
import zlib
from collections.abc import Collection, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from mumo.chem.conformer import CONFORMER_SOURCES, ConformerConfig
from mumo.chem.structure import Parsed, Result, canonical_smiles, featurize_canonical, parse_smiles
from mumo.io import atomic_path, owned_output, write_text_atomic

logger = logging.getLogger(__name__)

OUTCOMES = (*CONFORMER_SOURCES, "rejected")
OUTCOME_LABELS = {
    "mmff": "MMFF converged",
    "mmff_not_converged": "MMFF not converged",
    "uff": "UFF (no MMFF parameters)",
    "uff_not_converged": "UFF not converged",
    "etkdg_unoptimised": "no force field (ETKDG geometry)",
    "2d_fallback": "2D only (no 3D)",
    "rejected": "rejected",
}

# Ragged record arrays: on-disk dtype, ragged group, and the shape of an empty array (0 marks the ragged axis).
_ARRAYS = {
    "x": (np.uint8, "atom", (0, 9)),
    "pos": (np.float32, "atom", (0, 3)),
    "frag_id": (np.int32, "atom", (0,)),
    "edge_index": (np.int32, "edge", (2, 0)),
    "edge_attr": (np.uint8, "edge", (0, 3)),
    "ba_edge_index": (np.int32, "angle", (2, 0)),
    "ba_angle": (np.float32, "angle", (0,)),
    "frag_edge_index": (np.int32, "frag_edge", (2, 0)),
    "frag_edge_attr": (np.uint8, "frag_edge", (0, 3)),
    "frag_ba_edge_index": (np.int32, "frag_angle", (2, 0)),
    "frag_ba_angle": (np.float32, "frag_angle", (0,)),
}
_STRINGS = ("smiles", "conformer_source", "reason")
_SETTINGS = "settings_utf8"  # the ConformerConfig.record() a file was built with, as UTF-8 JSON
REPORT_COLUMNS = ["row", "smiles", "canonical_smiles", "outcome", "reason", "cached", "computed", "cpu_s"]
_CHUNKSIZE = 4  # molecules per task: small, so a slow molecule does not hold a long tail of others
CACHE_CHUNK = 64  # new records per cache file: what an interrupted structure stage keeps


def shard_index(smiles: str, n_shards: int) -> int:
    """Stable shard of a canonical SMILES (first 8 bytes of its sha1, mod n_shards)."""
    return int.from_bytes(hashlib.sha1(smiles.encode()).digest()[:8], "big") % n_shards


def _pack_strings(values: list[str]) -> tuple[np.ndarray, np.ndarray]:
    encoded = [value.encode() for value in values]
    ptr = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(e) for e in encoded], out=ptr[1:])
    return np.frombuffer(b"".join(encoded), dtype=np.uint8), ptr


def _unpack_strings(data: np.ndarray, ptr: np.ndarray) -> list[str]:
    return [data[a:b].tobytes().decode() for a, b in zip(ptr[:-1], ptr[1:], strict=True)]


def write_shard(records: Sequence[dict], path: str | os.PathLike, config: ConformerConfig) -> None:
    """Write records, computed with `config`, to one compressed shard file that records it, atomically."""
    arrays = {_SETTINGS: np.frombuffer(json.dumps(config.record(), sort_keys=True).encode(), dtype=np.uint8)}
    for key in _STRINGS:
        arrays[f"{key}_utf8"], arrays[f"{key}_ptr"] = _pack_strings([r[key] for r in records])
    for key, (dtype, group, empty) in _ARRAYS.items():
        axis = empty.index(0)
        parts = [r[key] for r in records]
        arrays[key] = np.concatenate(parts, axis=axis).astype(dtype) if parts else np.zeros(empty, dtype)
        if f"{group}_ptr" not in arrays:
            arrays[f"{group}_ptr"] = np.cumsum([0, *(p.shape[axis] for p in parts)], dtype=np.int64)
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez_compressed(handle, **arrays)


class StoreSettingsError(ValueError):
    """A structure store file built with other conformer settings (or RDKit version) than a reader needs."""


def _settings_mismatch(path: Path, built: dict, expected: dict) -> StoreSettingsError:
    """The one-line refusal: the file and, of both settings, what differs."""
    keys = [k for k in sorted({*built, *expected} - {"digest"}) if built.get(k) != expected.get(k)]
    return StoreSettingsError(
        f"{path}: structure store built with conformer settings {_settings_text(built, keys)}, but this "
        f"model's are {_settings_text(expected, keys)}; give a store built with the model's settings, or "
        "delete the file and rerun the step that wrote it"
    )


def _settings_text(record: dict, keys: Sequence[str] | None = None) -> str:
    return ", ".join(f"{k}={record.get(k)}" for k in (keys or sorted(set(record) - {"digest"})))


class CorruptStoreError(ValueError):
    """A structure store file that cannot be read back; the message names the file."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(
            f"{path}: corrupt structure store file ({problem}); delete it and rerun the step that wrote it "
            "(for the pipeline: snakemake reruns a deleted shard)"
        )
        self.path = path


def _check_arrays(arrays: dict[str, np.ndarray]) -> None:
    """Raise ValueError unless every pointer array is monotonic and ends at the length of what it cuts."""
    n = len(arrays["smiles_ptr"]) - 1
    cuts = [(f"{key}_ptr", f"{key}_utf8", 0) for key in _STRINGS]
    cuts += [(f"{group}_ptr", key, empty.index(0)) for key, (_, group, empty) in _ARRAYS.items()]
    for ptr_name, data_name, axis in cuts:
        ptr, data = arrays[ptr_name], arrays[data_name]
        if len(ptr) != n + 1 or ptr[0] != 0 or (np.diff(ptr) < 0).any() or ptr[-1] != data.shape[axis]:
            raise ValueError(f"{ptr_name} does not match {data_name}")


class _Shard:
    """One shard file; its SMILES are read for the index, the other arrays on first use, each checked."""

    def __init__(self, path: Path):
        self.path = path
        self._arrays: dict[str, np.ndarray] | None = None
        self.settings: dict | None = None  # what the file records (set when its SMILES are read)

    def _read(self, names: Sequence[str] | None) -> dict[str, np.ndarray]:
        """The named arrays (all if None; the settings record where the file has one), read in full so the
        zip checks their CRC; CorruptStoreError if not."""
        try:
            with np.load(self.path, allow_pickle=False) as npz:
                wanted = (
                    npz.files if names is None else [n for n in names if n != _SETTINGS or n in npz.files]
                )
                arrays = {key: npz[key] for key in wanted}
            if names is None:
                _check_arrays(arrays)
            _unpack_strings(arrays["smiles_utf8"], arrays["smiles_ptr"])
        except (FileNotFoundError, PermissionError):
            raise
        except (
            zipfile.BadZipFile,
            zlib.error,
            EOFError,
            KeyError,
            ValueError,
            OSError,
            NotImplementedError,
        ) as error:
            # what a cut or garbled zip raises, depending on where the damage is
            raise CorruptStoreError(self.path, f"{type(error).__name__}: {error}") from error
        return arrays

    def smiles(self) -> list[str]:
        a = self._arrays or self._read(["smiles_utf8", "smiles_ptr", _SETTINGS])
        if _SETTINGS in a:
            try:
                self.settings = json.loads(a[_SETTINGS].tobytes().decode())
            except ValueError as error:
                raise CorruptStoreError(self.path, f"settings record: {error}") from error
        return _unpack_strings(a["smiles_utf8"], a["smiles_ptr"])

    def record(self, row: int) -> dict:
        if self._arrays is None:
            self._arrays = self._read(None)
        a = self._arrays
        record = {
            key: _unpack_strings(a[f"{key}_utf8"], a[f"{key}_ptr"][row : row + 2])[0] for key in _STRINGS
        }
        for key, (dtype, group, empty) in _ARRAYS.items():
            start, stop = a[f"{group}_ptr"][row : row + 2]
            part = a[key][start:stop] if empty.index(0) == 0 else a[key][:, start:stop]
            record[key] = part.astype(np.float32 if dtype == np.float32 else np.int64)  # always a copy
        return record


def _move_aside(path: Path, problem: str) -> None:
    """Rename a corrupt cache file out of the cache's globs, with a warning naming it and why."""
    target = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}")
    try:
        path.rename(target)
    except FileNotFoundError:  # a concurrent shard job moved it first
        return
    logger.warning("%s: %s; moved aside to %s, what it held is computed again", path, problem, target.name)


class StructureStore:
    """Read-only view of a store directory, a single shard file or a list of shard files (the pipeline's: the
    shards a job declares as inputs), loaded lazily shard by shard.

    Lookups take the canonical SMILES; any other spelling of a molecule is canonicalised on a miss. A corrupt
    file raises CorruptStoreError naming it, unless `move_corrupt` (the cache): then it is moved aside and
    its molecules are simply absent. With `conformer`, a file built with other settings raises
    StoreSettingsError when its SMILES are first read (one not recording them: a warning).
    """

    def __init__(
        self,
        path: str | os.PathLike | Sequence[str | os.PathLike],
        move_corrupt: bool = False,
        *,
        conformer: ConformerConfig | None = None,
    ):
        self.expected = conformer.record() if conformer is not None else None
        paths = [Path(path)] if isinstance(path, str | os.PathLike) else [Path(p) for p in path]
        for one in paths:
            if not one.exists():
                raise FileNotFoundError(f"no structure store at {one}")
        self._shards = [
            _Shard(p) for one in paths for p in (sorted(one.glob("*.npz")) if one.is_dir() else [one])
        ]
        self._index: dict[str, tuple[int, int]] | None = None
        self.move_corrupt = move_corrupt

    def _check_settings(self, shard: _Shard) -> None:
        if self.expected is None:
            return
        if shard.settings is None:  # an older file: the pipeline rebuilt its shards on any settings change
            logger.warning(
                "%s: structure store file without a record of its conformer settings (written before mumo "
                "recorded them), read as built with this model's %s; delete it and rerun the step that wrote "
                "it to have them checked",
                shard.path,
                _settings_text(self.expected),
            )
        elif shard.settings.get("digest") != self.expected["digest"]:
            raise _settings_mismatch(shard.path, shard.settings, self.expected)

    def _corrupt(self, error: CorruptStoreError) -> None:
        if not self.move_corrupt:
            raise error
        _move_aside(error.path, str(error.__cause__))

    @property
    def index(self) -> dict[str, tuple[int, int]]:
        """canonical SMILES -> (shard number, row); the first shard (in name order) holding a SMILES wins."""
        if self._index is None:
            self._index = {}
            for number, shard in enumerate(self._shards):
                try:
                    names = shard.smiles()
                except CorruptStoreError as error:
                    self._corrupt(error)
                    continue
                self._check_settings(shard)
                for row, smiles in enumerate(names):
                    self._index.setdefault(smiles, (number, row))
        return self._index

    def _locate(self, smiles: str) -> tuple[int, int] | None:
        found = self.index.get(smiles)
        if found is None:
            canonical = canonical_smiles(smiles)
            found = self.index.get(canonical) if canonical is not None else None
        return found

    def __contains__(self, smiles: str) -> bool:
        return self._locate(smiles) is not None

    def __getitem__(self, smiles: str) -> dict:
        found = self._locate(smiles)
        if found is None:
            raise KeyError(smiles)
        number, row = found
        try:
            return self._shards[number].record(row)
        except CorruptStoreError as error:  # moved aside: none of that file's molecules are in the store now
            self._corrupt(error)
            self._index = {key: place for key, place in self.index.items() if place[0] != number}
            raise KeyError(smiles) from error

    def get_many(self, smiles: Iterable[str]) -> list[dict]:
        return [self[s] for s in smiles]

    def __len__(self) -> int:
        return len(self.index)

    def __iter__(self) -> Iterator[str]:
        return iter(self.index)


def _featurize_all(smiles: list[str], config: ConformerConfig, workers: int, desc: str) -> Iterator[Result]:
    """Results in input order, computed in this process or in `workers` processes, with a progress bar on a
    terminal only (redrawn into a log file it would be one endless line; build_shard logs a summary)."""
    task = partial(featurize_canonical, config=config)
    with ExitStack() as stack:
        if workers > 1 and len(smiles) > 1:
            # fork is cheap and fine for RDKit; map() starts the workers before tqdm starts its thread.
            method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
            pool = stack.enter_context(
                ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method))
            )
            results = pool.map(task, smiles, chunksize=_CHUNKSIZE)
        else:
            results = map(task, smiles)
        quiet = not sys.stderr.isatty()
        yield from tqdm(results, total=len(smiles), desc=desc, unit="mol", mininterval=2, disable=quiet)


def _compute(
    todo: list[str], config: ConformerConfig, workers: int, *, desc: str, cache_root: Path | None
) -> dict[str, Result]:
    """Featurise `todo`; every `CACHE_CHUNK` records go into the cache as they are done (so an interrupted
    run keeps them), with a log line of progress and the time left at the rate so far."""
    computed: dict[str, Result] = {}
    pending: list[dict] = []
    started = time.perf_counter()
    for done, (key, result) in enumerate(
        zip(todo, _featurize_all(todo, config, workers, desc=desc), strict=True), start=1
    ):
        computed[key] = result
        pending += [result.record] if result.record is not None else []
        if cache_root is not None and (len(pending) >= CACHE_CHUNK or done == len(todo)) and pending:
            name = hashlib.sha1("\n".join(r["smiles"] for r in pending).encode()).hexdigest()[:20]
            write_shard(pending, cache_root / f"{name}.npz", config)
            pending = []
            elapsed = time.perf_counter() - started
            logger.info(
                "%s: %d of %d molecules featurised and cached, %.0f s, about %.0f s left",
                desc,
                done,
                len(todo),
                elapsed,
                elapsed / done * (len(todo) - done),
            )
    return computed


@dataclass
class _Key:
    """A canonical key known from the cache: what build_shard reads of a `Parsed`, without parsing."""

    canonical: str
    reason: str = ""


def _key_line(smiles: str, key: str) -> str:
    """One keys line: the two fields and a checksum of both, so a cut or garbled line cannot map a key."""
    fields = f"{smiles}\t{key}"
    return f"{fields}\t{zlib.crc32(fields.encode()):08x}\n"


def _read_keys(cache_root: Path) -> dict[str, str]:
    """Input SMILES -> canonical key, as parse_smiles gave it with this cache's RDKit version.

    A file with any line that fails its check is moved aside whole; its spellings are parsed again.
    """
    keys: dict[str, str] = {}
    for path in sorted(cache_root.glob("*.keys.tsv")):
        try:
            lines = path.read_text().split("\n")
        except (UnicodeDecodeError, OSError) as error:
            _move_aside(path, f"unreadable keys file ({error})")
            continue
        # a file ends with a newline, so the last split part is empty; any other line must carry its check
        lines, tail = lines[:-1], lines[-1]
        fields = [line.split("\t") for line in lines]
        bad = [
            n for n, f in enumerate(fields, 1) if len(f) != 3 or _key_line(f[0], f[1]) != lines[n - 1] + "\n"
        ]
        if bad or tail:
            first = bad[0] if bad else len(lines) + 1
            _move_aside(path, f"keys file with a line that fails its checksum (line {first})")
            continue
        keys.update((smiles, key) for smiles, key, _ in fields)
    return keys


def _add_keys(cache_root: Path, known: dict[str, str], keys: dict[str, str | None]) -> None:
    """Record the spellings not yet known, in a new file (files are only added, never rewritten).

    Rejected inputs are left out (they are parsed again, to report why), and so is any input with
    whitespace, which RDKit reads as the end of the SMILES and a TSV line could not hold.
    """
    new = {s: k for s, k in keys.items() if k is not None and s not in known and s.split() == [s]}
    if new:
        text = "".join(_key_line(s, k) for s, k in new.items())
        write_text_atomic(cache_root / f"{hashlib.sha1(text.encode()).hexdigest()[:20]}.keys.tsv", text)


def build_shard(
    smiles: Sequence[str],
    out_path: str | os.PathLike,
    config: ConformerConfig | None = None,
    workers: int = 1,
    *,
    cache_dir: str | os.PathLike | None = None,
    verbatim: Collection[str] = frozenset(),
) -> pd.DataFrame:
    """Featurise `smiles` into the shard file `out_path`, reusing and extending the cache under `cache_dir`.

    A SMILES in `verbatim` is keyed by itself, not by its canonical form, and its record is built from that
    very string (all fragments, atoms in its order): the record a model reading the string as given needs.
    Where the string is already canonical the two records are the same.

    Returns the report: one row per input SMILES, in input order, with columns row, smiles,
    canonical_smiles, outcome, reason, cached (record taken from the cache), computed (featurised in this
    call; only the first of duplicate rows) and cpu_s (CPU seconds spent featurising it in this call).
    """
    config = config or ConformerConfig()
    started = time.perf_counter()
    cache_root = Path(cache_dir) / config.digest() if cache_dir is not None else None
    known_keys = _read_keys(cache_root) if cache_root is not None else {}
    parsed = [_Key(known_keys[s]) if s in known_keys else parse_smiles(s) for s in smiles]
    parsed = [
        _Key(s) if s in verbatim and p.canonical is not None else p
        for s, p in zip(smiles, parsed, strict=True)
    ]
    keys = list(dict.fromkeys(p.canonical for p in parsed if p.canonical is not None))

    records = _cached_records(keys, cache_root)
    todo = [key for key in keys if key not in records]
    computed = _compute(todo, config, workers, desc=Path(out_path).name, cache_root=cache_root)

    new = [result.record for result in computed.values() if result.record is not None]
    records.update((record["smiles"], record) for record in new)
    write_shard([records[key] for key in keys if key in records], out_path, config)
    if cache_root is not None:
        spellings = {s: p.canonical for s, p in zip(smiles, parsed, strict=True) if s not in verbatim}
        _add_keys(cache_root, known_keys, spellings)

    report = _shard_report(smiles, parsed, computed, records)
    outcomes = report.drop_duplicates("canonical_smiles")["outcome"].value_counts()
    logger.info(
        "%s: %d rows, %d molecules, %d from cache, %d computed, %d rejected; outcomes: %s; %.1f s",
        out_path,
        len(report),
        len(keys),
        len(keys) - len(todo),
        len(todo),
        (report["outcome"] == "rejected").sum(),
        ", ".join(f"{n} {o}" for o, n in outcomes.items()) or "none",
        time.perf_counter() - started,
    )
    return report


def _cached_records(keys: list[str], cache_root: Path | None) -> dict[str, dict]:
    """The records of `keys` the cache holds (a corrupt cache file is moved aside: its molecules are absent)."""
    if cache_root is None or not cache_root.exists():
        return {}
    cache = StructureStore(cache_root, move_corrupt=True)
    records = {}
    for key in keys:
        if key in cache.index:
            with contextlib.suppress(KeyError):  # its cache file was corrupt: moved aside, computed again
                records[key] = cache[key]
    return records


def _shard_report(
    smiles: Sequence[str], parsed: list[Parsed | _Key], computed: dict, records: dict[str, dict]
) -> pd.DataFrame:
    """One row per input SMILES, in input order: its key, outcome and reason, whether it came from the cache
    or was computed here, and the CPU seconds it cost (on the first of duplicate rows only)."""
    rows, seen = [], set()
    for row, (raw, p) in enumerate(zip(smiles, parsed, strict=True)):
        key = p.canonical
        first = key not in seen
        seen.add(key)
        if key is None:
            outcome, reason, cpu_s = "rejected", p.reason, 0.0
        elif key in computed:
            result = computed[key]
            outcome, reason, cpu_s = result.outcome, result.reason, result.cpu_s if first else 0.0
        else:
            outcome, reason, cpu_s = records[key]["conformer_source"], records[key]["reason"], 0.0
        rows.append(
            {
                "row": row,
                "smiles": raw,
                "canonical_smiles": key,
                "outcome": outcome,
                "reason": reason,
                "cached": key is not None and key not in computed,
                "computed": key in computed and first,
                "cpu_s": cpu_s,
            }
        )
    return pd.DataFrame(rows, columns=REPORT_COLUMNS)


def read_smiles_table(input_csv: str | os.PathLike, smiles_column: str) -> pd.DataFrame:
    """A user's CSV as text, every row kept (blank lines are rows of empty strings); errors name the file."""
    try:
        frame = pd.read_csv(input_csv, dtype=str, keep_default_na=False, skip_blank_lines=False)
    except pd.errors.EmptyDataError:
        raise ValueError(f"{input_csv}: empty file, expected a CSV with a {smiles_column!r} column") from None
    if smiles_column not in frame.columns:
        raise ValueError(
            f"{input_csv}: no column {smiles_column!r}; available columns: {', '.join(map(str, frame.columns))}"
        )
    if frame.empty:
        raise ValueError(f"{input_csv}: no rows under the {smiles_column!r} column")
    return frame


def featurize_csv(
    input_csv: str | os.PathLike,
    output_dir: str | os.PathLike,
    smiles_column: str = "smiles",
    workers: int = 1,
    config: ConformerConfig | None = None,
) -> pd.DataFrame:
    """Run the structure stage on a user's CSV: `output_dir/structures.npz` (a store) and `report.csv`.

    The report has one row per input row, in input order (`row` counts data rows from 0), so no input is
    ever missing: invalid SMILES are `rejected` with RDKit's reason. `output_dir/cache/` keeps computed
    records, so a rerun on a grown file only computes the new molecules. The folder is `mumo featurize`'s
    own (`mumo.io.owned_output`): one holding anything else is refused.
    """
    smiles = read_smiles_table(input_csv, smiles_column)[smiles_column].tolist()
    with owned_output(output_dir, "mumo featurize") as out:  # its own folder: refused if it holds other files
        report = build_shard(smiles, out / "structures.npz", config, workers, cache_dir=out / "cache")
        write_text_atomic(out / "report.csv", report.to_csv(index=False))
    return report


def summarize_outcomes(report: pd.DataFrame, by: str = "dataset") -> pd.DataFrame:
    """Counts, fractions and featurisation CPU seconds per outcome (every outcome listed, zeros included).

    Groups by the `by` column when the report has one (e.g. reports of several datasets concatenated),
    else treats the report as one group "all". `reasons` lists the commonest reasons with their counts.
    """
    groups = report.groupby(by, sort=False) if by in report.columns else [("all", report)]
    rows = []
    for name, group in groups:
        for outcome in OUTCOMES:
            hits = group[group["outcome"] == outcome]
            reasons = hits["reason"].replace("", pd.NA).dropna().value_counts().head(5)
            rows.append(
                {
                    by: name,
                    "outcome": outcome,
                    "label": OUTCOME_LABELS[outcome],
                    "molecules": len(hits),
                    "fraction": len(hits) / len(group) if len(group) else 0.0,
                    "cpu_s": float(hits["cpu_s"].sum()),
                    "reasons": "; ".join(f"{reason} ({count})" for reason, count in reasons.items()),
                }
            )
    return pd.DataFrame(rows)
