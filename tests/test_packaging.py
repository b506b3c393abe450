"""The wheel holds every file the library reads at run time, so a plain `pip install` of mumo (not only the
editable install of the README) can train, predict and compare with the published numbers."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_ships_every_package_data_file(tmp_path: Path):
    data_files = sorted(
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "mumo").rglob("*")
        if path.is_file() and path.suffix not in (".py", ".pyc")
    )
    assert "mumo/train/deepspeed/zero2.json" in data_files and "mumo/data/published.csv" in data_files
    # Build from a copy: setuptools writes build/ and *.egg-info beside the sources.
    source = tmp_path / "source"
    shutil.copytree(ROOT / "mumo", source / "mumo", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            tmp_path,
            source,
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("mumo-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    assert [name for name in data_files if name not in shipped] == []


def _lock_script():
    spec = importlib.util.spec_from_file_location("lock", ROOT / "scripts" / "lock.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _pins(text: str) -> dict[str, str]:
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    pins = dict(line.split("==") for line in lines)
    assert len(pins) == len(lines), "a package is pinned twice"
    return pins


def test_lock_pins_every_dependency_at_a_version_pyproject_accepts():
    """bootstrap.sh installs with the lock as constraints: each pin must satisfy what pyproject asks for."""
    lock = _lock_script()
    pins = _pins(lock.LOCK.read_text())
    for requirement in lock.project_requirements():
        name = canonicalize_name(requirement.name)
        if name == "torch":  # pinned by bootstrap.sh's TORCH_SPEC (CPU or CUDA build), not by the lock
            assert name not in pins
            continue
        assert name in pins, f"{name} is not in envs/lock.txt: run .venv/bin/python scripts/lock.py"
        assert requirement.specifier.contains(pins[name], prereleases=True), (name, pins[name])
    data_packages = _pins((ROOT / "envs" / "data.txt").read_text())
    assert not ({"mumo", "torch-geometric"} | data_packages.keys()) & pins.keys()
    assert "-c envs/lock.txt" in (ROOT / "scripts" / "bootstrap.sh").read_text()


def test_lock_is_the_tested_venvs_set():
    """The lock is what this venv holds for mumo's requirements: a new or changed dependency needs a new lock."""
    lock = _lock_script()
    assert _pins(lock.lock_text()) == _pins(lock.LOCK.read_text()), (
        "stale lock: run .venv/bin/python scripts/lock.py"
    )
