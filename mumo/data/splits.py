"""Train/valid/test splits, looked up by name: random, scaffold, balanced_scaffold and TDC's benchmark split.

All splits return row indices into the standardised table. Scaffolds are plain Bemis-Murcko scaffolds
(`MurckoScaffoldSmiles(includeChirality=False)`); acyclic molecules share the empty scaffold.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from rdkit import Chem, rdBase
from rdkit.Chem.Scaffolds import MurckoScaffold

Split = dict[str, list[int]]
FOLDS = ("train", "valid", "test")
#: folds a finetuning run cannot do without: molecules to learn from and to be scored on (an empty valid
#: fold is allowed: no validation loss, no early stopping, the last step kept)
NEEDED_FOLDS = ("train", "test")


def scaffold_key(smiles: str) -> str:
    with rdBase.BlockLogs():
        mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise ValueError(f"cannot compute a scaffold for unparseable SMILES {smiles!r}")
    return MurckoScaffold.MurckoScaffoldSmiles(mol=mol, includeChirality=False)


def scaffold_groups(smiles: Sequence[str]) -> list[list[int]]:
    """Row indices grouped by scaffold, groups in order of first appearance."""
    groups: dict[str, list[int]] = defaultdict(list)
    for index, s in enumerate(smiles):
        groups[scaffold_key(s)].append(index)
    return list(groups.values())


def _sizes(n: int, fractions: Sequence[float]) -> tuple[int, int, int]:
    train, valid = int(n * fractions[0]), int(n * fractions[1])
    return train, valid, n - train - valid


def random_split(smiles: Sequence[str], seed: int, fractions: Sequence[float]) -> Split:
    order = np.random.default_rng(seed).permutation(len(smiles)).tolist()
    train, valid, _ = _sizes(len(smiles), fractions)
    return {"train": order[:train], "valid": order[train : train + valid], "test": order[train + valid :]}


def scaffold_split(smiles: Sequence[str], seed: int, fractions: Sequence[float]) -> Split:
    """Deterministic: scaffold sets from largest to smallest fill train, then valid, then test.

    Ties in size keep first-appearance order. `seed` is accepted for a uniform signature and ignored.
    """
    groups = sorted(scaffold_groups(smiles), key=len, reverse=True)  # sorted() is stable
    train_size, valid_size, _ = _sizes(len(smiles), fractions)
    split: Split = {fold: [] for fold in FOLDS}
    for group in groups:
        if len(split["train"]) + len(group) <= train_size:
            split["train"] += group
        elif len(split["valid"]) + len(group) <= valid_size:
            split["valid"] += group
        else:
            split["test"] += group
    return split


def balanced_scaffold_split(smiles: Sequence[str], seed: int, fractions: Sequence[float]) -> Split:
    """Chemprop's balanced scaffold split, exactly as TDC's `create_scaffold_split` implements it.

    Scaffold sets larger than half the valid or test size are "big"; big sets are shuffled, then small ones,
    with `random.Random(seed)`, and assigned greedily: train if it fits, else valid if it fits, else test.
    With a zero test fraction (TDC's benchmark case) a set that does not fit train goes to valid.
    """
    groups = scaffold_groups(smiles)
    train_size, valid_size, test_size = _sizes(len(smiles), fractions)
    big = [g for g in groups if len(g) > valid_size / 2 or len(g) > test_size / 2]
    small = [g for g in groups if not (len(g) > valid_size / 2 or len(g) > test_size / 2)]
    rng = random.Random(seed)
    rng.shuffle(big)
    rng.shuffle(small)
    split: Split = {fold: [] for fold in FOLDS}
    for group in big + small:
        if len(split["train"]) + len(group) <= train_size:
            split["train"] += group
        elif fractions[2] == 0 or len(split["valid"]) + len(group) <= valid_size:
            split["valid"] += group
        else:
            split["test"] += group
    return split


TDC_TRAIN_VALID_FRACTIONS = (0.875, 0.125, 0.0)


def tdc_split(table: pd.DataFrame, seed: int) -> Split:
    """TDC ADMET group: the shipped test set stays fixed; train_val is split by TDC's seeded scaffold split.

    Scaffolds come from the SMILES as TDC ships them (not our salt-stripped form), as PyTDC computes them.
    """
    if "tdc_set" not in table.columns:
        raise ValueError("the 'tdc' split needs a TDC benchmark-group dataset (no 'tdc_set' column)")
    train_val = np.flatnonzero(table["tdc_set"].to_numpy() == "train_val")
    test = np.flatnonzero(table["tdc_set"].to_numpy() == "test").tolist()
    inner = balanced_scaffold_split(table["smiles"].iloc[train_val].tolist(), seed, TDC_TRAIN_VALID_FRACTIONS)
    return {
        "train": train_val[inner["train"]].tolist(),
        "valid": train_val[inner["valid"]].tolist(),
        "test": test,
    }


def authors_split(table: pd.DataFrame) -> Split:
    """The authors' own folds, as their hub files give them (the table's `authors_set` column)."""
    if "authors_set" not in table.columns:
        raise ValueError("the 'authors' split needs the authors' table (no 'authors_set' column)")
    sets = table["authors_set"].to_numpy()
    return {fold: np.flatnonzero(sets == fold).tolist() for fold in FOLDS}


SPLITTERS: dict[str, Callable[[Sequence[str], int, Sequence[float]], Split]] = {
    "random": random_split,
    "scaffold": scaffold_split,
    "balanced_scaffold": balanced_scaffold_split,
}
FIXED_SPLITS = {"tdc": tdc_split, "authors": lambda table, seed: authors_split(table)}
SPLIT_NAMES = (*SPLITTERS, *FIXED_SPLITS)


def check_fractions(fractions: Sequence[float], key: str) -> None:
    """Fold fractions a finetuning split can use, checked before any work: three numbers >= 0 summing to 1,
    train and test > 0 (valid may be 0: no validation, the last step kept). `key` names them in the error
    (the config's `split_fractions`, `mumo train --split-fractions`)."""
    if len(fractions) != 3 or not all(
        isinstance(f, int | float) and not isinstance(f, bool) for f in fractions
    ):
        raise ValueError(f"{key}: three numbers (train, valid, test) expected, got {fractions!r}")
    if any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-6:
        raise ValueError(f"{key}: fractions must be >= 0 and must sum to 1, got {list(fractions)}")
    for fold, fraction in zip(FOLDS, fractions, strict=True):
        if fold in NEEDED_FOLDS and fraction <= 0:
            raise ValueError(f"{key}: the {fold} fraction must be > 0, got {list(fractions)}")


def make_split(
    table: pd.DataFrame, name: str, seed: int, fractions: Sequence[float] = (0.8, 0.1, 0.1)
) -> Split:
    """Row indices per fold for a standardised table; each fold sorted so files are stable and readable."""
    if name in FIXED_SPLITS:
        split = FIXED_SPLITS[name](table, seed)
    elif name in SPLITTERS:
        if abs(sum(fractions) - 1) > 1e-6 or any(f < 0 for f in fractions):
            raise ValueError(f"split fractions must be >= 0 and sum to 1, got {list(fractions)}")
        split = SPLITTERS[name](table["canonical_smiles"].tolist(), seed, fractions)
    else:
        raise KeyError(f"unknown split {name!r}; valid splits: {', '.join(SPLIT_NAMES)}")
    return {fold: sorted(int(i) for i in split[fold]) for fold in FOLDS}


def fold_column_split(table: pd.DataFrame, sets: Sequence[str], where: str) -> Split:
    """Folds given per input row (`sets[r]` is train, valid or test for input row r, e.g. a CSV column):
    the standardised table's rows follow their input `row`. Another value stops, naming `where` and the row,
    and so does a train or test fold left empty (e.g. every test row rejected by standardisation)."""
    bad = [(r, s) for r, s in enumerate(sets) if s not in FOLDS]
    if bad:
        raise ValueError(
            f"{where}: row {bad[0][0]} has {bad[0][1]!r}; every row needs one of {', '.join(FOLDS)} "
            f"({len(bad)} rows do not)"
        )
    given = np.asarray(sets, dtype=object)[table["row"].to_numpy()]
    split = {fold: np.flatnonzero(given == fold).tolist() for fold in FOLDS}
    check_needed_folds(split, f"{where} (rows kept by standardisation)")
    return split


def _listed(items: Sequence[Any], shown: int = 5) -> str:
    """The first few items of a list for a one-line error, with how many more there are."""
    more = f" and {len(items) - shown} more" if len(items) > shown else ""
    return ", ".join(map(str, items[:shown])) + more


def check_needed_folds(split: Mapping[str, Sequence[int]], where: str) -> None:
    """A split without train or test molecules is refused before any training, naming the fold."""
    for fold in NEEDED_FOLDS:
        if not len(split.get(fold, ())):
            raise ValueError(
                f"{where}: the {fold} fold is empty; training needs molecules in {' and '.join(NEEDED_FOLDS)} "
                "(valid may be empty)"
            )


def folds_of_rows(given: Mapping[str, Any], rows: int, where: str) -> list[str]:
    """The fold of each of `rows` input rows from a user's {"train": [...], "valid": [...], "test": [...]}
    (0-based row numbers), checked before any work: an unknown fold name, a row number that is not an
    integer in 0..rows-1, a row listed twice (in two folds or one), a row in no fold and an empty train or
    test fold each stop with the rows or fold named, instead of a row silently moving to the last fold."""
    unknown = sorted(set(given) - set(FOLDS))
    if unknown:
        raise ValueError(
            f"{where}: unknown fold(s) {', '.join(map(repr, unknown))}; folds: {', '.join(FOLDS)}"
        )
    sets: list[list[str]] = [[] for _ in range(rows)]
    for fold in FOLDS:
        listed = given.get(fold, [])
        bad = [r for r in listed if isinstance(r, bool) or not isinstance(r, int) or not 0 <= r < rows]
        if bad:
            raise ValueError(
                f"{where}: {fold} row(s) {_listed(bad)} are not input rows (integers 0..{rows - 1})"
            )
        for r in listed:
            sets[r].append(fold)
    twice = [f"{r} ({'/'.join(folds)})" for r, folds in enumerate(sets) if len(folds) > 1]
    if twice:
        raise ValueError(f"{where}: {len(twice)} row(s) listed more than once: {_listed(twice)}")
    unlisted = [r for r, folds in enumerate(sets) if not folds]
    if unlisted:
        raise ValueError(f"{where}: {len(unlisted)} row(s) in no fold: {_listed(unlisted)}")
    check_needed_folds(given, where)
    return [folds[0] for folds in sets]
