"""Standardisation: every raw row ends either in the clean table or in `rejected.csv` with its reason.

Policy, in order:
1. Parse with RDKit (default sanitisation, `mumo.chem.structure.parse_smiles`). Empty or unparseable SMILES
   are rejected with RDKit's own error message.
2. Fragments (`fragments: largest`, the default): salts and mixtures keep their largest fragment, chosen by
   RDKit's LargestFragmentChooser counting heavy atoms only: a fragment with carbon beats one without, then
   the most heavy atoms win (hydrogens are not counted: cisplatin `N.N.Cl[Pt]Cl` keeps PtCl2, not ammonia),
   then the higher sum over heavy atoms of 100 x atomic number + isotope - charge / 10, then the
   alphabetically first canonical SMILES of the fragment, so the choice never depends on the order the
   fragments are written in. Counter-ions and solvents are dropped from the structure, not the row.
   `fragments: keep` leaves mixtures whole.
3. Charges, isotopes and stereo are kept as written; the key is RDKit's isomeric canonical SMILES.
4. Labels must be finite numbers (missing is allowed), class labels 0 or 1 (`1.0` and `"1"` too); the
   first bad label of a row rejects it, naming the column and the value. A row with no label is rejected.
5. Duplicates (same canonical SMILES, and the same TDC set where there is one) are merged into the first row.
   Per task, regression values are averaged; classification labels must agree, and a disagreement makes that
   task's label missing for the molecule. A molecule left with no label is rejected as "conflicting labels".
   Every merged row is listed in `rejected.csv` as a duplicate of the row it was merged into.
   The authors' split files (`merge_duplicates=False`) keep their rows exactly: duplicates are only counted,
   within a fold and across folds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from rdkit import Chem, rdBase
from rdkit.Chem.MolStandardize import rdMolStandardize

from mumo.chem.structure import FRAGMENT_POLICIES, parse_smiles
from mumo.data.registry import CLASSIFICATION


def _largest_fragment_chooser() -> rdMolStandardize.LargestFragmentChooser:
    """RDKit's chooser as the policy above says: organic first, then heavy atoms (its default counts H too)."""
    params = rdMolStandardize.CleanupParameters()
    params.preferOrganic = True
    params.largestFragmentChooserCountHeavyAtomsOnly = True
    return rdMolStandardize.LargestFragmentChooser(params)


LARGEST_FRAGMENT = _largest_fragment_chooser()

REJECTED_COLUMNS = ["row", "smiles", "reason"]
FOLD_COLUMNS = ("tdc_set", "authors_set")  # given folds, kept as they are (and part of the duplicate key)


@dataclass(frozen=True)
class Standardised:
    table: pd.DataFrame  # mol_id, row, smiles, canonical_smiles, tasks..., [tdc_set]
    rejected: pd.DataFrame  # row, smiles, reason
    counts: dict[str, int]  # raw, kept, rejected (+ duplicates kept, in several folds, for given folds)
    reasons: dict[str, int]  # rejected rows per reason, most frequent first (the reason without its detail)

    def report(self) -> dict[str, int]:
        """The counts as one flat record, a `rejected: <reason>` column per reason (data_report.csv's shape)."""
        return self.counts | {f"rejected: {reason}": n for reason, n in self.reasons.items()}

    def reasons_text(self) -> str:
        """ "2 SMILES Parse Error, 1 no label" for a one-line message."""
        return ", ".join(f"{n} {reason}" for reason, n in self.reasons.items())


def canonicalise(smiles: object, fragments: str = "largest") -> tuple[str | None, str]:
    """(canonical isomeric SMILES, "") or (None, reason), under the fragment policy."""
    if fragments not in FRAGMENT_POLICIES:
        raise ValueError(f"unknown fragment policy {fragments!r}; choose one of {FRAGMENT_POLICIES}")
    parsed = parse_smiles(smiles if isinstance(smiles, str) else "")
    if parsed.mol is None:
        return None, parsed.reason
    mol = parsed.mol
    if fragments == "largest" and len(Chem.GetMolFrags(mol)) > 1:
        mol = LARGEST_FRAGMENT.choose(mol)
    return Chem.MolToSmiles(mol), ""


def label_problems(labels: pd.Series, column: str, task_type: str) -> tuple[pd.Series, pd.Series]:
    """Per row: '' or why its label is unusable, naming the column and the value as written; and the labels
    as numbers (NaN where missing or unusable). The rule of standardisation and evaluation alike.

    Labels must be finite numbers (missing is allowed), and class labels 0 or 1: an `inf` or a class `2`
    would otherwise fail later without naming a row, train a multi-task model on a third class quietly, or
    score a wrong accuracy.
    """
    problems = pd.Series("", index=labels.index, dtype="object")
    written = labels.astype("string").str.strip()
    values = pd.to_numeric(labels, errors="coerce")
    checks = [
        ("label not numeric", values.isna() & labels.notna() & (written != "")),
        ("label not finite", np.isinf(values)),
    ]
    if task_type == CLASSIFICATION:
        checks.append(("class label not 0 or 1", values.notna() & ~np.isinf(values) & ~values.isin([0, 1])))
    for what, bad in checks:
        bad &= problems == ""
        problems[bad] = [f"{what} in column {column!r} (value {v!r})" for v in written[bad]]
    return problems, values.where(problems == "")


def _label_problem(frame: pd.DataFrame, tasks: list[str], task_type: str) -> pd.Series:
    """Per row: '' or why its labels are unusable (the first bad label, `label_problems`), or "no label"."""
    problems = pd.Series("", index=frame.index, dtype="object")
    numeric = {}
    for task in tasks:
        column_problems, numeric[task] = label_problems(frame[task], task, task_type)
        problems[problems == ""] = column_problems[problems == ""]
    all_missing = (
        pd.concat(numeric, axis=1).isna().all(axis=1) if tasks else pd.Series(False, index=frame.index)
    )
    problems[all_missing & (problems == "")] = "no label"
    for task in tasks:
        frame[task] = numeric[task]
    return problems


def _fold_columns(table: pd.DataFrame) -> list[str]:
    return [c for c in FOLD_COLUMNS if c in table.columns]


def _duplicate_counts(table: pd.DataFrame) -> dict[str, int]:
    """Duplicates left in place: rows repeating an earlier row's molecule in their fold, and rows whose
    molecule is also in another fold."""
    within = int(table.duplicated(["canonical_smiles", *_fold_columns(table)]).sum())
    counts = {"duplicates kept": within}
    for column in _fold_columns(table):
        folds = table.groupby("canonical_smiles")[column].transform("nunique")
        counts["in several folds"] = int((folds > 1).sum())
    return counts


def _merge_duplicates(
    table: pd.DataFrame, tasks: list[str], task_type: str
) -> tuple[pd.DataFrame, list[dict]]:
    keys = ["canonical_smiles", *_fold_columns(table)]
    rejected: list[dict] = []
    first_rows = table.groupby(keys, sort=False)["row"].transform("first")
    duplicated = table["row"] != first_rows
    for row, smiles, first in (
        table.loc[duplicated, ["row", "smiles"]].assign(first=first_rows[duplicated]).itertuples(index=False)
    ):
        rejected.append({"row": row, "smiles": smiles, "reason": f"duplicate of row {first} (merged)"})
    if not duplicated.any() or not tasks:
        return table.loc[~duplicated].reset_index(drop=True), rejected

    merged = table.loc[~duplicated].set_index(keys)
    groups = table.groupby(keys, sort=False)[tasks]
    if task_type == CLASSIFICATION:
        agree = groups.nunique() <= 1
        values = groups.first().where(agree)
    else:
        values = groups.mean()
    merged[tasks] = values.loc[merged.index, tasks]
    merged = merged.reset_index()
    conflicted = merged[tasks].isna().all(axis=1)
    for row, smiles in merged.loc[conflicted, ["row", "smiles"]].itertuples(index=False):
        rejected.append({"row": row, "smiles": smiles, "reason": "conflicting labels between duplicates"})
    return merged.loc[~conflicted].reset_index(drop=True), rejected


def standardise(
    raw: pd.DataFrame,
    tasks: list[str],
    task_type: str,
    dataset: str,
    *,
    fragments: str = "largest",
    merge_duplicates: bool = True,
) -> Standardised:
    """Apply the module's policy to a normalised raw table (`smiles` + task columns [+ a fold column])."""
    frame = raw.copy()
    frame.insert(0, "row", np.arange(len(frame)))
    with rdBase.BlockLogs():  # the reasons go to rejected.csv, not to stderr
        canonical = [canonicalise(s, fragments) for s in frame["smiles"]]
    frame["canonical_smiles"] = [c for c, _ in canonical]
    reasons = pd.Series([r for _, r in canonical], index=frame.index, dtype="object")
    label_problems = (
        _label_problem(frame, tasks, task_type) if tasks else pd.Series("", index=frame.index, dtype="object")
    )
    reasons[(reasons == "") & (label_problems != "")] = label_problems
    bad = reasons != ""
    rejected = [
        {"row": r, "smiles": s, "reason": why}
        for r, s, why in zip(frame.loc[bad, "row"], frame.loc[bad, "smiles"], reasons[bad], strict=True)
    ]
    if merge_duplicates:
        kept, duplicates = _merge_duplicates(frame.loc[~bad].reset_index(drop=True), tasks, task_type)
        rejected += duplicates
    else:
        kept = frame.loc[~bad].reset_index(drop=True)
    kept.insert(0, "mol_id", [f"{dataset}:{r}" for r in kept["row"]])
    columns = ["mol_id", "row", "smiles", "canonical_smiles", *tasks, *_fold_columns(kept)]
    rejected_frame = pd.DataFrame(rejected, columns=REJECTED_COLUMNS).sort_values("row", ignore_index=True)
    reasons_count = (
        rejected_frame["reason"].str.replace(r" \(.*|: .*| of row \d+.*", "", regex=True).value_counts()
    )
    counts = {"raw": len(raw), "kept": len(kept), "rejected": len(rejected_frame)}
    if not merge_duplicates:
        counts |= _duplicate_counts(kept)
    assert counts["kept"] + counts["rejected"] == counts["raw"], "standardisation lost rows"
    reasons = {str(k): int(v) for k, v in reasons_count.items()}
    return Standardised(kept[columns], rejected_frame, counts, reasons)
