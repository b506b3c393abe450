"""One seeded 3D conformer per molecule, with a recorded fallback chain (docs/model.md §1.3).

Chain: ETKDGv3 (retried with random coordinates, then with ignoreSmoothingFailures) → MMFF94 → UFF where
MMFF has no parameters → the unoptimised ETKDG geometry where neither has → 2D depiction coordinates when
nothing embeds, the molecule is too large, or the embedding budget runs out. Every molecule gets exactly one
`source` from `CONFORMER_SOURCES` and a human-readable `reason` for anything that is not plain `mmff`.

What is bounded in time: embedding, by one wall-clock budget `timeout_s` per molecule, shared evenly by the
attempts still to run (RDKit's EmbedParameters.timeout, whole seconds); force-field optimisation, by
`max_iters` per conformer (not by wall time: at <= `max_atoms` atoms it takes about a second at most). There
is no hard kill of a worker. A budget that runs out gives `2d_fallback`, so on a loaded machine a slow
molecule can fall back where it would embed on an idle one; the default budget is far above what drug-like
molecules need (tens of milliseconds), and its size is part of `ConformerConfig.digest()`.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass

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
    "2d_fallback",  # no 3D: nothing embeds, too many atoms, or the time budget ran out
)

# ETKDG attempts in order; each later one trades geometry quality for a chance to embed at all.
_EMBED_ATTEMPTS = (
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
    timeout_s: int = 60  # embedding budget per molecule, all attempts together

    @classmethod
    def paper(cls) -> ConformerConfig:
        """The paper's conformer settings, seeded (the paper was not)."""
        return cls(num_conformers=10, max_iters=200)

    def digest(self) -> str:
        """Hash of the settings and the RDKit version, which together determine the coordinates."""
        payload = json.dumps({**asdict(self), "rdkit": rdkit.__version__}, sort_keys=True)
        return hashlib.sha1(payload.encode()).hexdigest()[:16]


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
    """Try the ETKDG attempts in order within the time budget; return conformer ids and notes."""
    deadline = time.monotonic() + config.timeout_s
    notes = []
    for attempt, (name, overrides) in enumerate(_EMBED_ATTEMPTS):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            notes.append(f"embedding budget of {config.timeout_s} s exhausted")
            break
        params = rdDistGeom.ETKDGv3()
        params.randomSeed = config.seed
        # Share what is left of the budget with the attempts still to come.
        params.timeout = max(1, math.ceil(remaining / (len(_EMBED_ATTEMPTS) - attempt)))
        for key, value in overrides.items():
            setattr(params, key, value)
        started = time.monotonic()
        try:
            conf_ids = [
                c for c in rdDistGeom.EmbedMultipleConfs(mol, config.num_conformers, params) if c >= 0
            ]
        except (RuntimeError, ValueError) as error:  # e.g. an invariant violation in the bounds matrix
            detail = ": ".join([line.strip() for line in str(error).splitlines() if line.strip()][:2])
            notes.append(f"{name} embedding raised {detail}")
            continue
        if conf_ids:
            return conf_ids, notes + ([f"embedded with {name}"] if name != "etkdg" else [])
        timed_out = time.monotonic() - started >= params.timeout
        notes.append(
            f"{name} embedding failed" + (f" (timed out after {params.timeout} s)" if timed_out else "")
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
