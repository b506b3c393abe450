"""Session fixtures: real single-node SLURM clusters (tests/slurm/cluster.py) for the tests marked `slurm`,
started on first use and stopped, daemon by daemon, at the end of the session.

* `slurm_cluster`: with accounting (MariaDB + slurmdbd), so `sacct` works.
* `slurm_cluster_noacct`: without accounting, like a cluster without slurmdbd (`sacct` fails).

With CI=true these tests never skip: a cluster that cannot be installed or started fails them with the reason.
Elsewhere they skip only when not root (the daemons run as root) or when the Debian packages are missing and
apt cannot install them.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cluster as local_slurm  # noqa: E402

NODE_CPUS = 6  # announced by the test node: more small jobs at once than the machine's cores (see cluster.py)


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def say(message: str) -> None:
    print(f"[slurm tests] {message}", file=sys.stderr)


def _unavailable(reason: str) -> None:
    if in_ci():
        pytest.fail(f"CI=true, so the SLURM tests must run, but: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def slurm_packages() -> float:
    """Seconds spent installing the Debian packages (0 when they were there)."""
    if os.geteuid() != 0:
        _unavailable("the local SLURM test cluster runs its daemons as root; run the tests as root")
    try:
        return local_slurm.ensure_packages(log=say)
    except local_slurm.AptUnavailable as err:
        _unavailable(f"SLURM packages are missing and apt cannot install them: {err}")
    except local_slurm.ClusterError as err:
        pytest.fail(f"installing the SLURM packages failed: {err}", pytrace=False)


def _cluster(tmp_path_factory, name: str, **options) -> Iterator[local_slurm.LocalSlurmCluster]:
    root = tmp_path_factory.mktemp(name)
    if len(str(root)) > 70:  # the munge and MariaDB unix sockets live under root: paths must stay < 108 bytes
        root = Path(tempfile.mkdtemp(prefix=f"mumo-{name}-"))
    cluster = local_slurm.LocalSlurmCluster(root, cpus=NODE_CPUS, log=say, **options)
    try:
        cluster.start()
    except local_slurm.ClusterError as err:
        pytest.fail(f"the local SLURM cluster ({name}) did not start: {err}", pytrace=False)
    say(f"{name} up in {cluster.timings['start_s']:.1f} s ({root})")
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def slurm_cluster(slurm_packages, tmp_path_factory) -> Iterator[local_slurm.LocalSlurmCluster]:
    yield from _cluster(tmp_path_factory, "slurm", accounting=True)


@pytest.fixture(scope="session")
def slurm_cluster_noacct(slurm_packages, tmp_path_factory) -> Iterator[local_slurm.LocalSlurmCluster]:
    yield from _cluster(tmp_path_factory, "slurm-noacct", accounting=False)
