"""One seeded 3D conformer per molecule, with a recorded fallback chain (docs/model.md §1.3).

Chain: ETKDGv3 (retried with random coordinates, then with ignoreSmoothingFailures where the distance bounds
do not smooth) → MMFF94 → UFF where MMFF has no parameters → the unoptimised ETKDG geometry where neither has
→ 2D depiction coordinates when nothing embeds or the molecule is too large. Every molecule gets exactly one `source` from
`CONFORMER_SOURCES` and a human-readable `reason` for anything that is not plain `mmff`.

What bounds the work, in counts and never in seconds, so that the same settings, seed and RDKit version give
the same conformer on any machine under any load: embedding, by `max_embed_attempts` ETKDG attempts (RDKit's
EmbedParameters.maxIterations: random starts, each minimised and checked) per conformer, per molecule
fragment and per strategy of the chain; force-field optimisation, by `max_iters` per conformer. RDKit's
wall-clock `timeout` stays off. A molecule whose every strategy gives up gets `2d_fallback` with a reason
that names the bound. Both bounds are part of `ConformerConfig.digest()`.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import rdkit
from rdkit import Chem, rdBase
from rdkit.Chem import rdDepictor, rdDistGeom, rdForceFieldHelpers

CONFORMER_SOURCES = (
    "mmff",  # MMFF94 converged
    "mmff_not_converged",  # MMFF94 hit max_iters
    "uff",  # no MMFF parameters (e.g. boron, many metals); UFF converged
    "uff_not_converged",
    "etkdg_unoptimised",  # neither MMFF nor UFF parameters (e.g. cisplatin): ETKDG geometry as embedded
    "2d_fallback",  # no 3D: nothing embeds within max_embed_attempts, or too many atoms
)

# Settings that no longer exist, with what replaced them.
REMOVED_SETTINGS = {
    "timeout_s": "removed: embedding is bounded by max_embed_attempts, a count, so that outcomes do not "
    "depend on the machine's load",
}

# ETKDG strategies in order; each later one trades geometry quality for a chance to embed at all.
_EMBED_STRATEGIES = (
    ("etkdg", {}),
    ("random coordinates", {"useRandomCoords": True}),
    ("ignoreSmoothingFailures", {"useRandomCoords": True, "ignoreSmoothingFailures": True}),
)


@dataclass(frozen=True)
class ConformerConfig:
    """Conformer settings; `digest()` keys every cache, so any change here recomputes structures."""

    seed: int = 42
    num_conformers: int = 1  # paper: 10, keeping the lowest force-field energy
    max_iters: int = 2000  # paper: 200 (leaves ~60 % of drug-like molecules unconverged)
    mmff_variant: str = "MMFF94"
    add_hs_below_heavy_atoms: int = 50  # paper: explicit H only for smaller molecules
    max_atoms: int = 400  # paper: larger molecules get 2D coordinates
    max_embed_attempts: int = 80  # ETKDG attempts (RDKit maxIterations) per conformer, fragment and strategy

    @classmethod
    def paper(cls) -> ConformerConfig:
        """The paper's conformer settings, seeded (the paper was not)."""
        return cls(num_conformers=10, max_iters=200)

    @classmethod
    def from_dict(cls, settings: Mapping[str, Any], where: str) -> ConformerConfig:
        """Settings as configured; an unknown key is an error that names `where` it came from."""
        known = [f.name for f in fields(cls)]
        for key in settings:
            if key not in known:
                hint = REMOVED_SETTINGS.get(key, f"known: {', '.join(known)}")
                raise ValueError(f"{where}: unknown conformer setting {key!r} ({hint})")
        return cls(**settings)

    def digest(self) -> str:
        """Hash of the settings and the RDKit version, which together determine the coordinates."""
        payload = json.dumps({**asdict(self), "rdkit": rdkit.__version__}, sort_keys=True)
        return hashlib.sha1(payload.encode()).hexdigest()[:16]

    def record(self) -> dict[str, Any]:
        """What a structure store file records of how it was built: the settings, RDKit version and digest."""
        return {**asdict(self), "rdkit": rdkit.__version__, "digest": self.digest()}


@dataclass
class Conformer:
    pos: np.ndarray  # float32 [n_atoms, 3], atoms in the order of the input molecule (no added H)
    source: str  # one of CONFORMER_SOURCES
    reason: str  # why it is not plain "mmff" ("" when it is)


def generate_conformer(mol: Chem.Mol, config: ConformerConfig) -> Conformer:
    """Coordinates for `mol`'s atoms via the fallback chain; never raises for a sanitised molecule."""
    n = mol.GetNumAtoms()
    if n > config.max_atoms:
        return _depiction(mol, f"{n} atoms > max_atoms={config.max_atoms}")
    # AddHs appends hydrogens after the existing atoms, so the first n atoms stay the input's atoms.
    work = Chem.AddHs(mol) if n < config.add_hs_below_heavy_atoms else Chem.Mol(mol)
    with rdBase.BlockLogs():  # UFFTYPER and "no explicit Hs" chatter; outcomes are recorded instead
        conf_ids, notes = _embed(work, config)
        if not conf_ids:
            return _depiction(mol, "; ".join(notes))
        source, conf_id, note = _optimise(work, conf_ids, config)
    pos = work.GetConformer(conf_id).GetPositions()[:n].astype(np.float32)
    return Conformer(pos, source, "; ".join(filter(None, [*notes, note])))


def _embed(mol: Chem.Mol, config: ConformerConfig) -> tuple[list[int], list[str]]:
    """Try the ETKDG strategies in order, each bounded by `max_embed_attempts`; return conformer ids and notes."""
    notes, gave_up = [], False
    for name, overrides in _EMBED_STRATEGIES:
        if gave_up and overrides.get("ignoreSmoothingFailures"):
            # This strategy is the last one plus a flag that acts only on distance bounds that do not smooth;
            # these smoothed (attempts ran), so it would repeat the same seeded attempts and fail again.
            notes.append(f"{name} not tried (the distance bounds smoothed)")
            break
        params = rdDistGeom.ETKDGv3()
        params.randomSeed = config.seed
        params.maxIterations = config.max_embed_attempts
        params.timeout = 0  # no wall clock: the outcome must not depend on the machine's load
        params.trackFailures = True  # tells "gave up" (attempts ran) from failing before any attempt
        for key, value in overrides.items():
            setattr(params, key, value)
        try:
            conf_ids = [
                c for c in rdDistGeom.EmbedMultipleConfs(mol, config.num_conformers, params) if c >= 0
            ]
        except (RuntimeError, ValueError) as error:  # e.g. an invariant violation in the bounds matrix
            detail = ": ".join([line.strip() for line in str(error).splitlines() if line.strip()][:2])
            notes.append(f"{name} embedding raised {detail}")
            gave_up = False
            continue
        if conf_ids:
            return conf_ids, notes + ([f"embedded with {name}"] if name != "etkdg" else [])
        # No attempt counted: RDKit stopped before the first, when the distance bounds do not smooth.
        gave_up = any(params.GetFailureCounts())
        notes.append(
            f"{name} embedding "
            + (
                f"gave up after {config.max_embed_attempts} attempts"
                if gave_up
                else "failed before any attempt"
            )
        )
    return [], notes


def _optimise(mol: Chem.Mol, conf_ids: list[int], config: ConformerConfig) -> tuple[str, int, str]:
    """Optimise every conformer with MMFF, else UFF; return (source, lowest-energy conformer id, note)."""
    if rdForceFieldHelpers.MMFFHasAllMoleculeParams(mol):
        name, notes = "mmff", []
        results = rdForceFieldHelpers.MMFFOptimizeMoleculeConfs(
            mol, maxIters=config.max_iters, mmffVariant=config.mmff_variant
        )
    elif rdForceFieldHelpers.UFFHasAllMoleculeParams(mol):
        name, notes = "uff", ["no MMFF parameters"]
        results = rdForceFieldHelpers.UFFOptimizeMoleculeConfs(mol, maxIters=config.max_iters)
    else:
        return "etkdg_unoptimised", conf_ids[0], "no MMFF or UFF parameters"
    # results[i] = (not_converged, energy) of conformer conf_ids[i]; not_converged -1: force field not set up.
    scored = [
        (energy, status, cid)
        for cid, (status, energy) in zip(conf_ids, results, strict=True)
        if status != -1 and math.isfinite(energy)
    ]
    if not scored:
        return "etkdg_unoptimised", conf_ids[0], "; ".join([*notes, f"{name.upper()} setup failed"])
    _, status, best = min(scored)
    if status != 0:
        name, notes = f"{name}_not_converged", [*notes, f"not converged in {config.max_iters} iterations"]
    return name, best, "; ".join(notes)


def _depiction(mol: Chem.Mol, reason: str) -> Conformer:
    """2D depiction coordinates (z = 0): the paper's fallback, flagged as no 3D."""
    flat = Chem.Mol(mol)
    rdDepictor.Compute2DCoords(flat)
    return Conformer(flat.GetConformer().GetPositions().astype(np.float32), "2d_fallback", reason)
