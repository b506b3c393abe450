"""Write envs/lock.txt: the exact versions, in this venv, of everything mumo's install pulls in.

Run with the venv that passed the tests (`.venv/bin/python scripts/lock.py`) after changing dependencies;
scripts/bootstrap.sh then installs mumo with the file as pip constraints, so a new machine gets the tested set.
The walk starts at pyproject.toml's dependencies and its `slurm` and `test` extras (what bootstrap installs) and
follows the installed packages' requirements, so packages that merely sit in the venv are not locked. Left out: mumo itself, torch (TORCH_SPEC
in bootstrap.sh pins it, as a CPU or a CUDA build) and the data packages (pinned in envs/data.txt).
"""

from __future__ import annotations

import platform
import tomllib
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "envs" / "lock.txt"
EXTRAS = ("slurm", "test")
UNLOCKED = {"torch"}


def _wanted(requirement: Requirement, extras: set[str]) -> bool:
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate({"extra": extra}) for extra in extras | {""})


def project_requirements(extras: tuple[str, ...] = EXTRAS) -> list[Requirement]:
    """mumo's own requirements as pyproject.toml states them (not the possibly older installed metadata)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = [*project["dependencies"], *(r for e in extras for r in project["optional-dependencies"][e])]
    return [Requirement(line) for line in lines]


def installed_closure(requirements: list[Requirement]) -> dict[str, str]:
    """name -> installed version of every installed distribution that `requirements` reach."""
    versions: dict[str, str] = {}
    queue = [(r.name, set(r.extras)) for r in requirements if _wanted(r, set())]
    seen: set[tuple[str, frozenset[str]]] = set()
    while queue:
        name, wanted_extras = queue.pop()
        key = (canonicalize_name(name), frozenset(wanted_extras))
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            continue  # an optional requirement for another platform or Python
        versions[canonicalize_name(dist.metadata["Name"])] = dist.version
        for line in dist.requires or []:
            requirement = Requirement(line)
            if _wanted(requirement, wanted_extras):
                queue.append((requirement.name, set(requirement.extras)))
    return versions


def lock_text() -> str:
    pins = {
        name: version
        for name, version in installed_closure(project_requirements()).items()
        if name not in UNLOCKED
    }
    header = (
        f"# The tested pip set (Python {platform.python_version()}), written by scripts/lock.py from the venv\n"
        "# that passed the tests. scripts/bootstrap.sh installs mumo with these as constraints; torch is pinned\n"
        "# there (TORCH_SPEC), the data packages in envs/data.txt.\n"
    )
    return header + "".join(f"{name}=={version}\n" for name, version in sorted(pins.items()))


if __name__ == "__main__":
    LOCK.write_text(lock_text())
    print(f"wrote {LOCK.relative_to(ROOT)}")
