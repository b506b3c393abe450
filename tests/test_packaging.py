"""The wheel holds every file the library reads at run time, so a plain `pip install` of mumo (not only the
editable install of the README) can train, predict and compare with the published numbers."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

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
