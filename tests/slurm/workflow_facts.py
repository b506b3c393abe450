"""What the workflow and profiles/slurm say about where jobs run, read from the files themselves so that the
SLURM tests follow any change to them: the workflow's `localrules` and the profile's groups."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def local_rules(snakefile: Path = REPO / "Snakefile") -> set[str]:
    """The rules of the Snakefile's `localrules:` block (one name per line, each followed by a comma)."""
    block = re.search(r"^localrules:\n((?:[ \t]+\w+,?\n)+)", snakefile.read_text(), flags=re.M)
    assert block, f"{snakefile} has no `localrules:` block"
    return set(re.findall(r"\w+", block.group(1)))


def groups(profile: dict) -> dict[str, str]:
    """rule -> group, from a profile's `groups` entries (rule=group)."""
    return dict(entry.split("=") for entry in profile.get("groups", []))


def group_components(profile: dict) -> dict[str, int]:
    return {group: int(n) for group, n in (e.split("=") for e in profile.get("group-components", []))}


def group_of_comment(comment: str, group_names: set[str]) -> str | None:
    """The group a SLURM job ran, from the plugin's --comment: `rule_<group>_<its rules>` for a group job (no
    wildcards), `rule_<rule>[_wildcards_...]` for a single job (None)."""
    if "_wildcards_" in comment or not comment.startswith("rule_"):
        return None
    name = comment.removeprefix("rule_")
    return next((g for g in group_names if name.startswith(f"{g}_")), None)
