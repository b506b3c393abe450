"""SMILES tokenizer: the paper's atom-level regex and a word-level vocabulary (docs/model.md §1.1).

The vocabulary is a JSON list of tokens whose position is the id. The four leading specials and the three
trailing ones are fixed by the paper; the tokens between are ordered by corpus frequency (ties by token), so
a rebuild from the same corpus gives the same ids and the same hash.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from mumo.io import write_text_atomic

logger = logging.getLogger(__name__)

SMILES_PATTERN = (
    r"(\[[^\]]+]|Br?|Cl?|N|O|S|P|F|I|b|c|n|o|s|p|\(|\)|\.|=|#|-|\+|\\|\/|:|~|@|\?|>|\*|\$|\%[0-9]{2}|[0-9])"
)
_SMILES_RE = re.compile(SMILES_PATTERN)

MASK, CLS, PAD, SEP, UNK, BOS, EOS = "[MASK]", "[CLS]", "[PAD]", "[SEP]", "[UNK]", "[BOS]", "[EOS]"
LEADING_SPECIALS = (MASK, CLS, PAD, SEP)  # ids 0..3
TRAILING_SPECIALS = (UNK, BOS, EOS)  # ids vocab-3, vocab-2, vocab-1
MASK_ID, CLS_ID, PAD_ID, SEP_ID = range(len(LEADING_SPECIALS))
_FORMAT = "mumo-smiles-vocab/1"
_MAX_WARNINGS = 10


def special_token_ids(vocab_size: int) -> tuple[int, ...]:
    """Ids of [MASK], [CLS], [PAD], [SEP], [UNK], [BOS], [EOS] in a vocabulary of `vocab_size` tokens.

    The model needs them (masking never picks a special) without a tokenizer object at hand.
    """
    trailing = len(TRAILING_SPECIALS)
    return (*range(len(LEADING_SPECIALS)), *range(vocab_size - trailing, vocab_size))


def split_smiles(smiles: str) -> tuple[list[str], list[str]]:
    """Return (tokens, dropped): `dropped` holds every run of characters the regex does not match."""
    tokens, dropped, end = [], [], 0
    for match in _SMILES_RE.finditer(smiles):
        if match.start() > end:
            dropped.append(smiles[end : match.start()])
        tokens.append(match.group())
        end = match.end()
    if end < len(smiles):
        dropped.append(smiles[end:])
    return tokens, dropped


def tokenize(smiles: str) -> list[str]:
    """Atom-level tokens. Unmatched characters are dropped as in the paper, but logged [quirk]."""
    tokens, dropped = split_smiles(smiles)
    if dropped:
        logger.warning("dropped characters %r outside the SMILES pattern in %r", dropped, smiles)
    return tokens


def detokenize(tokens: Iterable[str]) -> str:
    return "".join(tokens)


class SmilesTokenizer:
    """Maps SMILES to `[CLS] tokens [SEP]` ids and counts what it had to change on the way.

    `stats` counts encoded sequences, truncated sequences, tokens mapped to [UNK] and characters dropped by
    the regex, so a data report can say how lossy the encoding of a dataset was.
    """

    def __init__(self, tokens: Sequence[str]):
        tokens = list(tokens)
        n = len(tokens)
        if (
            tuple(tokens[: len(LEADING_SPECIALS)]) != LEADING_SPECIALS
            or tuple(tokens[n - len(TRAILING_SPECIALS) :]) != TRAILING_SPECIALS
        ):
            raise ValueError(
                f"vocabulary must start with {LEADING_SPECIALS} and end with {TRAILING_SPECIALS}"
            )
        if len(set(tokens)) != n:
            raise ValueError("vocabulary has duplicate tokens")
        self.tokens = tokens
        self.ids = {token: i for i, token in enumerate(tokens)}
        ids = special_token_ids(n)
        self.mask_id, self.cls_id, self.pad_id, self.sep_id = ids[: len(LEADING_SPECIALS)]
        self.unk_id, self.bos_id, self.eos_id = ids[len(LEADING_SPECIALS) :]
        self.stats: Counter[str] = Counter()
        self._warnings = 0

    @classmethod
    def build(cls, corpus: Iterable[str], max_size: int | None = None) -> SmilesTokenizer:
        """Vocabulary from a corpus: specials, then tokens by descending frequency; `max_size` counts all ids."""
        counts: Counter[str] = Counter()
        for smiles in corpus:
            counts.update(split_smiles(smiles)[0])
        ranked = sorted(counts, key=lambda token: (-counts[token], token))
        if max_size is not None:
            ranked = ranked[: max(0, max_size - len(LEADING_SPECIALS) - len(TRAILING_SPECIALS))]
        return cls([*LEADING_SPECIALS, *ranked, *TRAILING_SPECIALS])

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def vocab_hash(self) -> str:
        """sha256 of the pattern and the id-ordered tokens: two tokenizers with one hash encode identically."""
        payload = json.dumps({"pattern": SMILES_PATTERN, "tokens": self.tokens}, ensure_ascii=False)
        return hashlib.sha256(payload.encode()).hexdigest()

    def save(self, path: str | os.PathLike) -> None:
        document = {
            "format": _FORMAT,
            "pattern": SMILES_PATTERN,
            "sha256": self.vocab_hash,
            "tokens": self.tokens,
        }
        write_text_atomic(path, json.dumps(document, ensure_ascii=False, indent=0) + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike) -> SmilesTokenizer:
        document = json.loads(Path(path).read_text())
        if document.get("format") != _FORMAT or document.get("pattern") != SMILES_PATTERN:
            raise ValueError(f"{path}: not a {_FORMAT} vocabulary for this SMILES pattern")
        tokenizer = cls(document["tokens"])
        if tokenizer.vocab_hash != document["sha256"]:
            raise ValueError(f"{path}: content hash mismatch (file edited or corrupted)")
        return tokenizer

    def encode(self, smiles: str, max_length: int | None = None) -> list[int]:
        """`[CLS] tokens [SEP]`; past `max_length` ids the tokens are cut and [SEP] is kept (counted)."""
        tokens, dropped = split_smiles(smiles)
        if dropped:
            self.stats["dropped_characters"] += sum(map(len, dropped))
            if self._warnings < _MAX_WARNINGS:
                self._warnings += 1
                logger.warning("dropped characters %r outside the SMILES pattern in %r", dropped, smiles)
        ids = [self.ids.get(token, self.unk_id) for token in tokens]
        self.stats["unknown_tokens"] += ids.count(self.unk_id)
        self.stats["sequences"] += 1
        if max_length is not None and len(ids) + 2 > max_length:
            if max_length < 2:
                raise ValueError(f"max_length={max_length} leaves no room for [CLS] and [SEP]")
            ids = ids[: max_length - 2]
            self.stats["truncated"] += 1
        return [self.cls_id, *ids, self.sep_id]

    def decode(self, ids: Iterable[int]) -> str:
        """The SMILES text of `ids`, without [CLS]/[SEP]/[PAD]/[BOS]/[EOS] ([MASK] and [UNK] are kept)."""
        skip = {self.cls_id, self.sep_id, self.pad_id, self.bos_id, self.eos_id}
        return detokenize(self.tokens[i] for i in ids if i not in skip)
