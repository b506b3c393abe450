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
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
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
from mumo.chem.structure import Result, canonical_smiles, featurize_canonical, parse_smiles
from mumo.io import atomic_path, write_text_atomic

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
REPORT_COLUMNS = ["row", "smiles", "canonical_smiles", "outcome", "reason", "cached", "computed", "cpu_s"]
_CHUNKSIZE = 4  # molecules per task: small, so a slow molecule does not hold a long tail of others


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


def write_shard(records: Sequence[dict], path: str | os.PathLike) -> None:
    """Write records to one compressed shard file, atomically."""
    arrays = {}
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


class _Shard:
    """One shard file; its arrays are read on first use."""

    def __init__(self, path: Path):
        self.path = path
        self._arrays: dict[str, np.ndarray] | None = None

    def smiles(self) -> list[str]:
        with np.load(self.path, allow_pickle=False) as npz:
            return _unpack_strings(npz["smiles_utf8"], npz["smiles_ptr"])

    def record(self, row: int) -> dict:
        if self._arrays is None:
            with np.load(self.path, allow_pickle=False) as npz:
                self._arrays = {key: npz[key] for key in npz.files}
        a = self._arrays
        record = {
            key: _unpack_strings(a[f"{key}_utf8"], a[f"{key}_ptr"][row : row + 2])[0] for key in _STRINGS
        }
        for key, (dtype, group, empty) in _ARRAYS.items():
            start, stop = a[f"{group}_ptr"][row : row + 2]
            part = a[key][start:stop] if empty.index(0) == 0 else a[key][:, start:stop]
            record[key] = part.astype(np.float32 if dtype == np.float32 else np.int64)  # always a copy
        return record


class StructureStore:
    """Read-only view of a store directory (or a single shard file), loaded lazily shard by shard.

    Lookups take the canonical SMILES; any other spelling of a molecule is canonicalised on a miss.
    """

    def __init__(self, path: str | os.PathLike):
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"no structure store at {path}")
        self._shards = [_Shard(p) for p in (sorted(path.glob("*.npz")) if path.is_dir() else [path])]
        self._index: dict[str, tuple[int, int]] | None = None

    @property
    def index(self) -> dict[str, tuple[int, int]]:
        """canonical SMILES -> (shard number, row); the first shard (in name order) holding a SMILES wins."""
        if self._index is None:
            self._index = {}
            for number, shard in enumerate(self._shards):
                for row, smiles in enumerate(shard.smiles()):
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
        return self._shards[number].record(row)

    def get_many(self, smiles: Iterable[str]) -> list[dict]:
        return [self[s] for s in smiles]

    def __len__(self) -> int:
        return len(self.index)

    def __iter__(self) -> Iterator[str]:
        return iter(self.index)


def _featurize_all(smiles: list[str], config: ConformerConfig, workers: int, desc: str) -> Iterator[Result]:
    """Results in input order, computed in this process or in `workers` processes, with a progress bar."""
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
        yield from tqdm(results, total=len(smiles), desc=desc, unit="mol", mininterval=2)


@dataclass
class _Key:
    """A canonical key known from the cache: what build_shard reads of a `Parsed`, without parsing."""

    canonical: str
    reason: str = ""


def _read_keys(cache_root: Path) -> dict[str, str]:
    """Input SMILES -> canonical key, as parse_smiles gave it with this cache's RDKit version."""
    keys: dict[str, str] = {}
    for path in sorted(cache_root.glob("*.keys.tsv")):
        keys.update(line.split("\t") for line in path.read_text().splitlines())
    return keys


def _add_keys(cache_root: Path, known: dict[str, str], keys: dict[str, str | None]) -> None:
    """Record the spellings not yet known, in a new file (files are only added, never rewritten).

    Rejected inputs are left out (they are parsed again, to report why), and so is any input with
    whitespace, which RDKit reads as the end of the SMILES and a TSV line could not hold.
    """
    new = {s: k for s, k in keys.items() if k is not None and s not in known and s.split() == [s]}
    if new:
        text = "".join(f"{s}\t{k}\n" for s, k in new.items())
        write_text_atomic(cache_root / f"{hashlib.sha1(text.encode()).hexdigest()[:20]}.keys.tsv", text)


def build_shard(
    smiles: Sequence[str],
    out_path: str | os.PathLike,
    config: ConformerConfig | None = None,
    workers: int = 1,
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
    cache_root = Path(cache_dir) / config.digest() if cache_dir is not None else None
    known_keys = _read_keys(cache_root) if cache_root is not None else {}
    parsed = [_Key(known_keys[s]) if s in known_keys else parse_smiles(s) for s in smiles]
    parsed = [
        _Key(s) if s in verbatim and p.canonical is not None else p
        for s, p in zip(smiles, parsed, strict=True)
    ]
    keys = list(dict.fromkeys(p.canonical for p in parsed if p.canonical is not None))

    cache = StructureStore(cache_root) if cache_root is not None and cache_root.exists() else None
    records = {key: cache[key] for key in keys if cache is not None and key in cache.index}
    todo = [key for key in keys if key not in records]
    computed = dict(zip(todo, _featurize_all(todo, config, workers, desc=Path(out_path).name), strict=True))

    new = [result.record for result in computed.values() if result.record is not None]
    records.update((record["smiles"], record) for record in new)
    write_shard([records[key] for key in keys if key in records], out_path)
    if cache_root is not None and new:
        name = hashlib.sha1("\n".join(r["smiles"] for r in new).encode()).hexdigest()[:20]
        write_shard(new, cache_root / f"{name}.npz")
    if cache_root is not None:
        spellings = {s: p.canonical for s, p in zip(smiles, parsed, strict=True) if s not in verbatim}
        _add_keys(cache_root, known_keys, spellings)

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
    report = pd.DataFrame(rows, columns=REPORT_COLUMNS)
    logger.info(
        "%s: %d rows, %d molecules, %d from cache, %d computed, %d rejected",
        out_path,
        len(report),
        len(keys),
        len(keys) - len(todo),
        len(todo),
        (report["outcome"] == "rejected").sum(),
    )
    return report


def _read_smiles_column(input_csv: str | os.PathLike, smiles_column: str) -> list[str]:
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
    return frame[smiles_column].tolist()


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
    records, so a rerun on a grown file only computes the new molecules.
    """
    output_dir = Path(output_dir)
    smiles = _read_smiles_column(input_csv, smiles_column)
    report = build_shard(
        smiles, output_dir / "structures.npz", config, workers, cache_dir=output_dir / "cache"
    )
    write_text_atomic(output_dir / "report.csv", report.to_csv(index=False))
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
