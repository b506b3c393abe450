"""The wheel holds every file the library reads at run time, so a plain `pip install` of mumo (not only the
editable install of the README) can train, predict and compare with the published numbers."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """mumo's wheel, built from a copy (setuptools writes build/ and *.egg-info beside the sources)."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"
    shutil.copytree(ROOT / "mumo", source / "mumo", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", tmp, source],
        check=True,
        capture_output=True,
    )
    (built,) = tmp.glob("mumo-*.whl")
    return built


def test_wheel_ships_every_package_data_file(wheel: Path):
    data_files = sorted(
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "mumo").rglob("*")
        if path.is_file() and path.suffix not in (".py", ".pyc")
    )
    assert {
        "mumo/train/deepspeed/zero2.json",
        "mumo/data/published.csv",
        "mumo/schemas/config.schema.yaml",
    } <= set(data_files)
    shipped = set(zipfile.ZipFile(wheel).namelist())
    assert [name for name in data_files if name not in shipped] == []


def test_commands_work_from_the_wheel_in_a_clean_venv(wheel: Path, tmp_path: Path):
    """`mumo cost` (which validates against the schema), `mumo datasets` and `mumo --version` run from the wheel
    in a new venv, outside the checkout: no file of the repository is read. The venv sees this one's
    third-party packages through a .pth file (a .pth in a .pth's folder is not read, so not the editable mumo)."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True, capture_output=True)
    (site,) = venv.glob("lib/python*/site-packages")
    (site / "dependencies.pth").write_text(
        "\n".join(p for p in sys.path if p.endswith("site-packages")) + "\n"
    )
    pip = [venv / "bin" / "python", "-m", "pip", "install", "-q", "--no-deps", "--no-index", wheel]
    subprocess.run(pip, check=True, capture_output=True)
    config = shutil.copy(ROOT / "config" / "paper.yaml", tmp_path / "paper.yaml")
    mumo = venv / "bin" / "mumo"
    runs = {
        "where": [venv / "bin" / "python", "-c", "import mumo; print(mumo.__file__)"],
        "version": [mumo, "--version"],
        "datasets": [mumo, "datasets", "--offline"],
        "cost": [mumo, "cost", "--configfile", config, "--gpus", "4", "--device", "a100", "--json"],
    }
    out = {
        name: subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, check=True).stdout
        for name, cmd in runs.items()
    }
    assert out["where"].startswith(str(site))
    assert "bbbp" in out["datasets"]
    assert json.loads(out["cost"])["jobs"]["finetune"] == 2002


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
