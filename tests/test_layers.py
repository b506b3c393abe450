"""The package's layers, bottom to top, and the rule that every import points down (or stays in its layer).

The README's development section shows the same table; a module that reaches up a floor fails here with the
import named, so a cycle between folders cannot come back unnoticed.
"""

from __future__ import annotations

import ast
from pathlib import Path

from helpers import REPO

#: bottom first; the groups of one row sit side by side and may not import each other
LAYERS: list[list[tuple[str, ...]]] = [
    [("mumo", "mumo.io", "mumo.logs", "mumo.catalog")],
    [("mumo.chem",)],
    [("mumo.data",), ("mumo.model",)],
    [("mumo.eval", "mumo.baselines")],
    [("mumo.train",)],
    [("mumo.steps", "mumo.plan")],
    [("mumo.apps",)],
    [("mumo.cli",)],
]


def place(module: str) -> tuple[int, int]:
    """(layer, group) of a mumo module: the longest prefix listed in LAYERS wins."""
    best = None
    for layer, groups in enumerate(LAYERS):
        for group, prefixes in enumerate(groups):
            for prefix in prefixes:
                if (module == prefix or module.startswith(prefix + ".")) and (
                    best is None or len(prefix) > best[0]
                ):
                    best = (len(prefix), layer, group)
    assert best is not None, f"{module} is in no layer of LAYERS: add it"
    return best[1], best[2]


def module_name(path: Path, root: Path = REPO) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path, root: Path = REPO) -> list[tuple[int, str]]:
    """(line, module) of every mumo import in a file, lazy ones inside functions included."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "mumo"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] == "mumo":
                found.append((node.lineno, target))
    return found


def upward_imports(root: Path = REPO) -> list[str]:
    problems = []
    for path in sorted((root / "mumo").rglob("*.py")):
        here = place(module_name(path, root))
        for line, target in imported(path, root):
            there = place(target)
            upward = there[0] > here[0]
            sideways = there[0] == here[0] and there[1] != here[1]
            if upward or sideways:
                problems.append(
                    f"{path.relative_to(root)}:{line} imports {target} ({'up' if upward else 'sideways'})"
                )
    return problems


def test_every_import_points_down():
    assert upward_imports() == []


def test_every_module_has_a_layer():
    for path in (REPO / "mumo").rglob("*.py"):
        place(module_name(path))


def test_the_check_sees_an_upward_and_a_sideways_import(tmp_path):
    """The rule itself: model may not import data (side by side), train may not import apps (up)."""
    assert place("mumo.model.saved") == (2, 1) and place("mumo.data.download") == (2, 0)
    assert place("mumo.apps.train_csv")[0] > place("mumo.train.recipes")[0]
    fake = tmp_path / "mumo" / "model"
    fake.mkdir(parents=True)
    (fake / "bad.py").write_text("from mumo.data.download import fetch\nfrom . import saved\n")
    (fake.parent / "train").mkdir()
    (fake.parent / "train" / "worse.py").write_text("def f():\n    from mumo.apps import cost\n")
    assert imported(fake / "bad.py", tmp_path) == [(1, "mumo.data.download"), (2, "mumo.model")]
    assert upward_imports(tmp_path) == [
        "mumo/model/bad.py:1 imports mumo.data.download (sideways)",
        "mumo/train/worse.py:2 imports mumo.apps (up)",
    ]


def test_the_readme_shows_the_layers():
    """The README's development section lists each layer, bottom first, one line each."""
    text = (REPO / "README.md").read_text()
    section = text[text.index("### Layers") :]
    lines = section.split("```")[1].strip().splitlines()
    assert len(lines) == len(LAYERS)
    for line, groups in zip(lines, reversed(LAYERS), strict=True):
        for prefixes in groups:
            for prefix in prefixes:
                shown = prefix.removeprefix("mumo.") + (
                    "/" if (REPO / prefix.replace(".", "/")).is_dir() else ""
                )
                assert shown in line or prefix == "mumo", (shown, line)
