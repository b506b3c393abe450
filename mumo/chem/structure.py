"""One molecule through the structure stage: parse, canonicalise, conformer, graphs (docs/model.md §1)."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from rdkit import Chem, rdBase

from mumo.chem.conformer import ConformerConfig, generate_conformer
from mumo.chem.graph import build_record

FRAGMENT_POLICIES = ("largest", "keep")  # salts and mixtures: keep the largest fragment, or the whole
_LOG_PREFIX = re.compile(r"^\[\d\d:\d\d:\d\d\] ")
_INNER_SPACE = re.compile(r"\s")


@dataclass
class Parsed:
    """A parsed SMILES: `mol` and `canonical` are None exactly when `reason` says why it was rejected."""

    mol: Chem.Mol | None
    canonical: str | None
    reason: str = ""


def parse_smiles(smiles: str) -> Parsed:
    """RDKit parse with default sanitisation; the molecule is rebuilt from its canonical SMILES.

    Rebuilding makes the graph's atom order that of the canonical string, which is also the string that is
    tokenised and the store key. Rejections carry RDKit's own first error line. Every molecule string that
    enters mumo (datasets, corpus, featurize, predict) comes through here, so this is where whitespace is
    caught: RDKit reads a SMILES only up to its first space, so `C C(=O)N` would silently become methane.
    """
    if not isinstance(smiles, str) or not smiles.strip():
        return Parsed(None, None, "empty SMILES")
    smiles = smiles.strip()
    if _INNER_SPACE.search(smiles):
        return Parsed(None, None, "whitespace inside the SMILES (RDKit would read only the part before it)")
    with rdBase.BlockLogs(), rdBase.CaptureErrorLog() as log:
        mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        lines = [_LOG_PREFIX.sub("", line) for line in log.messages.splitlines() if line.strip()]
        return Parsed(None, None, lines[0] if lines else "RDKit could not parse the SMILES")
    if mol.GetNumAtoms() == 0:
        return Parsed(None, None, "empty SMILES")
    canonical = Chem.MolToSmiles(mol)
    with rdBase.BlockLogs():
        mol = Chem.MolFromSmiles(canonical)
    if mol is None:
        return Parsed(None, None, f"canonical SMILES {canonical!r} does not parse again")
    return Parsed(mol, canonical)


def canonical_smiles(smiles: str) -> str | None:
    """The store key of `smiles`, or None if RDKit rejects it. Shard by this string (see store.shard_index)."""
    return parse_smiles(smiles).canonical


@dataclass
class Result:
    """Outcome of one canonical SMILES: a record unless rejected, and what it cost."""

    record: dict | None
    outcome: str  # a CONFORMER_SOURCES entry or "rejected"
    reason: str
    cpu_s: float  # CPU seconds of this process: the cost, whatever else loads the machine


def featurize_canonical(canonical: str, config: ConformerConfig) -> Result:
    """Record of a canonical SMILES from `parse_smiles`, built from exactly that string.

    A failure becomes a `rejected` outcome, never an exception, so one molecule cannot stop a shard.
    """
    start = time.process_time()
    try:
        with rdBase.BlockLogs():
            mol = Chem.MolFromSmiles(canonical)
            record = build_record(mol, canonical, generate_conformer(mol, config))
    except Exception as error:  # any failure: the reason goes to the report
        return Result(None, "rejected", f"{type(error).__name__}: {error}", time.process_time() - start)
    return Result(record, record["conformer_source"], record["reason"], time.process_time() - start)
