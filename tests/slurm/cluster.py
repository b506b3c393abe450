"""A real single-node SLURM cluster on localhost, for tests: munged, MariaDB, slurmdbd, slurmctld and slurmd.

Everything lives under one root folder: configs, state, spool, logs, the MariaDB data dir, the munge key and
socket. Each daemon runs in the foreground as a child process started here, so its pid is known exactly, and
`stop()` ends each one by that pid (SIGTERM, then SIGKILL after a timeout), never by name. Every wait is
bounded: a daemon that does not come up in time, or dies while we wait, raises ClusterError with its log.

Namespaces. The daemons, and every client (`run`, and anything started through `wrap`, e.g. snakemake),
run inside private namespaces held open by one `unshare` process:
* network: only a loopback interface (127.0.0.1, plus 127.0.0.2 because Slurm binds with
  getaddrinfo(AI_ADDRCONFIG), which finds nothing while 127.0.0.1 is the only IPv4 address). Slurm 22.05 has
  no bind-address setting; in here its ports are reachable from nowhere else. MariaDB also binds 127.0.0.1.
* mount: this cluster's etc/ folder is bind-mounted on /etc/slurm, visible only inside. Daemons and clients
  are pointed at the config with SLURM_CONF, but one client cannot be: the slurm-jobstep plugin drops every
  SLURM_* variable before it calls `srun` inside a job, and that `srun` reads /etc/slurm/slurm.conf. The
  machine's own /etc/slurm is never written, so two test clusters (with and without accounting) can run side
  by side.

Run `python tests/slurm/cluster.py up ROOT` for a cluster by hand (Ctrl-C stops it).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

# binary -> Debian package that ships it (the lean set, installed with --no-install-recommends)
BINARIES = {
    "sbatch": "slurm-client",
    "srun": "slurm-client",
    "squeue": "slurm-client",
    "sacct": "slurm-client",
    "sacctmgr": "slurm-client",
    "sinfo": "slurm-client",
    "scontrol": "slurm-client",
    "scancel": "slurm-client",
    "slurmctld": "slurmctld",
    "slurmd": "slurmd",
    "slurmdbd": "slurmdbd",
    "munged": "munge",
    "munge": "munge",
    "unmunge": "munge",
    "mariadbd": "mariadb-server",
    "mariadb-install-db": "mariadb-server",
    "mysql": "mariadb-server",
    "mysqladmin": "mariadb-server",
    "ip": "iproute2",
    "unshare": "util-linux",
    "nsenter": "util-linux",
}
SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/bin", "/sbin", "/bin"])
ETC_SLURM = Path("/etc/slurm")
APT_UPDATE_TIMEOUT_S = 180
APT_INSTALL_TIMEOUT_S = 600


class ClusterError(RuntimeError):
    """The local cluster could not be installed, started or stopped; the message says why."""


class ClusterStartError(ClusterError):
    """A state that waiting longer will not fix (a drained node...)."""


class AptUnavailable(ClusterError):
    """Packages are missing and cannot be installed here (no apt-get, not root, or apt-get failed)."""


def which(name: str) -> str | None:
    return shutil.which(name, path=SEARCH_PATH)


def missing_packages() -> list[str]:
    return sorted({package for binary, package in BINARIES.items() if which(binary) is None})


def ensure_packages(log: Callable[[str], None] = print) -> float:
    """Install the Debian packages whose binaries are missing; return the seconds spent (0 if none were)."""
    missing = missing_packages()
    if not missing:
        return 0.0
    if which("apt-get") is None:
        raise AptUnavailable(f"packages {missing} are missing and there is no apt-get")
    if os.geteuid() != 0:
        raise AptUnavailable(f"packages {missing} are missing and installing them needs root")
    start = time.monotonic()
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # Keep the packages' maintainer scripts from starting machine-wide munge/mariadb/slurm services.
    policy = Path("/usr/sbin/policy-rc.d")
    own_policy = not policy.exists()
    if own_policy:
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
    try:
        log(f"apt-get install {' '.join(missing)}")
        for command, timeout in (
            (["apt-get", "update", "-q"], APT_UPDATE_TIMEOUT_S),
            (["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing], APT_INSTALL_TIMEOUT_S),
        ):
            try:
                done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
            except subprocess.TimeoutExpired:
                raise AptUnavailable(f"{' '.join(command)} took more than {timeout} s") from None
            if done.returncode != 0:
                raise AptUnavailable(
                    f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-3000:]}"
                )
    finally:
        if own_policy:
            policy.unlink(missing_ok=True)
    still = missing_packages()
    if still:
        raise ClusterError(f"apt-get finished but binaries of {still} are still missing")
    return time.monotonic() - start


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tail(path: Path, n: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-n:]
    except OSError:
        return f"(no log at {path})"


@dataclass
class Daemon:
    name: str
    process: subprocess.Popen
    log: Path


@dataclass
class LocalSlurmCluster:
    """One node in two partitions, `cpu` (default) and `gpu`, with `gpus` fake GPUs of type `gpu_type` (typed
    GRES backed by copies of /dev/null, so jobs get CUDA_VISIBLE_DEVICES) and the node feature `feature`.
    `cpus`: the CPUs the node announces (default: the machine's); more than the machine has lets more small
    jobs run at once (slurmd is told to trust the config)."""

    root: Path
    accounting: bool = True
    account: str = "mumo_test"
    cpus: int | None = None
    gpus: int = 2
    gpu_type: str = "a100"
    feature: str = "a100"
    memory_mb: int = 16000
    min_job_age_s: int = 600
    start_timeout_s: float = 60.0
    stop_timeout_s: float = 15.0
    log: Callable[[str], None] = print
    daemons: list[Daemon] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.root = Path(self.root).resolve()
        self.etc = self.root / "etc"
        self.logs = self.root / "log"
        self.slurm_conf = self.etc / "slurm.conf"
        self.munge_socket = self.root / "munge" / "munge.socket"
        self.mysql_socket = self.root / "mysql" / "mysqld.sock"
        self.host = socket.gethostname().split(".")[0]
        self.node = self.host
        self.ports: dict[str, int] = {}
        self._holder: subprocess.Popen | None = None  # keeps the namespaces open

    # ---- clients ----------------------------------------------------------------------------------------
    @property
    def env(self) -> dict[str, str]:
        """Environment for Slurm clients and for snakemake (which calls sbatch, squeue, sacct)."""
        return {**os.environ, "SLURM_CONF": str(self.slurm_conf), "PATH": SEARCH_PATH}

    def wrap(self, command: Sequence[str]) -> list[str]:
        """The command, run inside the cluster's network and mount namespaces (nsenter execs it: same pid)."""
        if self._holder is None:
            raise ClusterError("the cluster's namespaces are not up")
        ns = f"/proc/{self._holder.pid}/ns"
        return [which("nsenter") or "nsenter", f"--net={ns}/net", f"--mount={ns}/mnt", "--", *command]

    def run(self, *command: str, timeout: float = 30, check: bool = True) -> subprocess.CompletedProcess:
        try:
            done = subprocess.run(
                self.wrap(command), env=self.env, capture_output=True, text=True, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            raise ClusterError(f"{' '.join(command)} took more than {timeout} s") from None
        if check and done.returncode != 0:
            raise ClusterError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.strip()}")
        return done

    def sacct(self, *args: str) -> list[dict[str, str]]:
        """sacct rows, one per job allocation (-X), of the last day; needs accounting."""
        fields = [
            "JobIDRaw",
            "JobName",
            "Partition",
            "State",
            "ExitCode",
            "AllocTRES",
            "ReqTRES",
            "Account",
            "Comment",
        ]
        done = self.run(
            "sacct", "-X", "--parsable2", "--noheader", "--starttime", "now-1days", "--endtime", "now",
            f"--format={','.join(fields)}", *args,
        )  # fmt: skip
        rows = [line.split("|", len(fields) - 1) for line in done.stdout.splitlines() if line]
        return [dict(zip(fields, row, strict=True)) for row in rows]

    def jobs(self) -> list[dict[str, str]]:
        """`scontrol show job` for every job slurmctld still knows (finished ones stay for MinJobAge seconds);
        works without accounting. TresPerJob is what the job asked for (e.g. gres:gpu:a100:2); TRES, what it
        was allocated (GPUs show there only with accounting: AccountingStorageTRES needs slurmdbd)."""
        keys = ("JobId", "JobName", "Partition", "JobState", "TRES", "TresPerJob", "Comment", "Account")
        rows = []
        for line in self.run("scontrol", "show", "job", "--oneliner").stdout.splitlines():
            found = {k: re.search(rf"(?:^|\s){k}=(\S*)", line) for k in keys}
            rows.append({k: m.group(1) if m else "" for k, m in found.items()})
        return rows

    # ---- lifecycle --------------------------------------------------------------------------------------
    def start(self) -> LocalSlurmCluster:
        t0 = time.monotonic()
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        self.timings["start_s"] = time.monotonic() - t0
        return self

    def _start(self) -> None:
        missing = missing_packages()
        if missing:
            raise ClusterError(f"missing packages {missing}; call ensure_packages() first")
        for sub in ("etc", "log", "state", "spool", "munge", "mysql", "dev"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o700)
        self.ports = {name: free_port() for name in ("slurmctld", "slurmd", "slurmdbd", "mysql")}
        self._write_configs()
        self._enter_namespaces()
        self._start_munge()
        if self.accounting:
            self._start_mariadb()
            self._spawn("slurmdbd", ["slurmdbd", "-D"])
            self._wait(
                "slurmdbd answers",
                lambda: self.run("sacctmgr", "-n", "list", "cluster", check=False).returncode == 0,
            )
        self._spawn("slurmctld", ["slurmctld", "-D", "-i", "-f", str(self.slurm_conf)])
        self._wait("slurmctld answers", lambda: "UP" in self.run("scontrol", "ping", check=False).stdout)
        self._spawn("slurmd", ["slurmd", "-D", "-N", self.node, "-f", str(self.slurm_conf)])
        self._wait("the node is idle", self._node_idle)
        if self.accounting:
            self.run(
                "sacctmgr",
                "-i",
                "add",
                "account",
                self.account,
                "Description=mumo-tests",
                "Organization=mumo",
            )
            self.run(
                "sacctmgr",
                "-i",
                "add",
                "user",
                "root",
                f"Account={self.account}",
                f"DefaultAccount={self.account}",
            )
        pids = {d.name: d.process.pid for d in self.daemons} | {"namespace-holder": self._holder.pid}
        (self.root / "pids.json").write_text(json.dumps(pids, indent=2) + "\n")

    def stop(self) -> None:
        """Cancel leftover jobs, then stop the daemons this object started, newest first, each by its pid."""
        if any(d.name == "slurmctld" and d.process.poll() is None for d in self.daemons):
            try:
                self.run("scancel", "--user", "root", check=False, timeout=15)
                deadline = time.monotonic() + self.stop_timeout_s
                while (
                    time.monotonic() < deadline
                    and self.run("squeue", "-h", "-t", "active", check=False).stdout.strip()
                ):
                    time.sleep(0.5)
            except ClusterError as err:
                self.log(f"could not cancel leftover jobs: {err}")
        errors = []
        for daemon in reversed(self.daemons):
            try:
                self._terminate(daemon)
            except ClusterError as err:
                errors.append(str(err))
        self.daemons.clear()
        if self._holder is not None:
            try:
                self._terminate(Daemon("namespace-holder", self._holder, self.logs / "holder.out"))
            except ClusterError as err:
                errors.append(str(err))
            self._holder = None
        if errors:
            raise ClusterError("; ".join(errors))

    def __enter__(self) -> LocalSlurmCluster:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---- pieces -----------------------------------------------------------------------------------------
    def _spawn(self, name: str, command: list[str]) -> Daemon:
        log = self.logs / f"{name}.out"
        with open(log, "ab") as out:
            process = subprocess.Popen(
                self.wrap([which(command[0]) or command[0], *command[1:]]),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,  # a Ctrl-C in the test runner does not reach the daemons
            )
        daemon = Daemon(name, process, log)
        self.daemons.append(daemon)
        return daemon

    def _terminate(self, daemon: Daemon) -> None:
        process = daemon.process
        if process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=self.stop_timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            try:
                process.wait(timeout=self.stop_timeout_s)
            except subprocess.TimeoutExpired:
                raise ClusterError(f"{daemon.name} (pid {process.pid}) survived SIGKILL") from None
            self.log(f"{daemon.name} (pid {process.pid}) ignored SIGTERM for {self.stop_timeout_s} s; killed")

    def _wait(self, what: str, ready: Callable[[], bool], timeout: float | None = None) -> None:
        timeout = self.start_timeout_s if timeout is None else timeout
        t0 = time.monotonic()
        while True:
            holder = (
                [Daemon("namespace holder", self._holder, self.logs / "holder.out")] if self._holder else []
            )
            dead = [d for d in [*holder, *self.daemons] if d.process.poll() is not None]
            if dead:
                d = dead[0]
                raise ClusterError(f"{d.name} exited ({d.process.returncode}) before {what}:\n{tail(d.log)}")
            try:
                if ready():
                    self.timings[what] = time.monotonic() - t0
                    return
            except ClusterStartError:
                raise
            except ClusterError:
                pass
            if time.monotonic() - t0 > timeout:
                logs = "\n".join(f"--- {d.name}:\n{tail(d.log, 1500)}" for d in self.daemons)
                raise ClusterError(f"timed out after {timeout:.0f} s waiting until {what}\n{logs}")
            time.sleep(0.1)

    def _node_idle(self) -> bool:
        states = [
            s.rstrip("*~#$@^-")
            for s in self.run("sinfo", "-h", "-N", "-n", self.node, "-o", "%t").stdout.split()
        ]
        if any(s in ("inval", "drain", "drng", "down", "fail") for s in states):
            reason = self.run("sinfo", "-R", check=False).stdout
            raise ClusterStartError(
                f"node {self.node} is {states}: {reason}\n{tail(self.logs / 'slurmd.log')}"
            )
        return bool(states) and all(s == "idle" for s in states)

    def _enter_namespaces(self) -> None:
        ETC_SLURM.mkdir(parents=True, exist_ok=True)  # the mount point (the packages create it anyway)
        script = (
            "set -e; ip link set lo up; ip addr add 127.0.0.2/8 dev lo; "
            f"mount --bind '{self.etc}' '{ETC_SLURM}'; echo ready; exec sleep infinity"
        )
        with open(self.logs / "holder.out", "wb") as out:
            self._holder = subprocess.Popen(
                [which("unshare") or "unshare", "--net", "--mount", "--propagation", "private", "sh", "-c", script],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        holder = self._holder

        def ready() -> bool:
            if holder.poll() is not None:
                raise ClusterStartError(
                    f"unshare failed ({holder.returncode}): {tail(self.logs / 'holder.out')}"
                )
            return "ready" in tail(self.logs / "holder.out")

        self._wait("the namespaces exist", ready, timeout=10)

    def _start_munge(self) -> None:
        key = self.root / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o600)
        self._spawn(
            "munged",
            [
                "munged", "--foreground", "--force", f"--key-file={key}", f"--socket={self.munge_socket}",
                f"--pid-file={self.root / 'munge' / 'munged.pid'}", f"--log-file={self.logs / 'munged.log'}",
                f"--seed-file={self.root / 'munge' / 'munged.seed'}",
            ],
        )  # fmt: skip

        def works() -> bool:
            cred = self.run("munge", "-n", "-S", str(self.munge_socket), check=False).stdout
            if not cred:
                return False
            done = subprocess.run(
                self.wrap(["unmunge", "-S", str(self.munge_socket)]), input=cred, capture_output=True, text=True,
                timeout=10,
            )  # fmt: skip
            return done.returncode == 0

        self._wait("munge works", works)

    def _start_mariadb(self) -> None:
        data = self.root / "mysql" / "data"
        install = self.run(
            "mariadb-install-db", "--no-defaults", "--user=root", f"--datadir={data}", "--skip-test-db",
            "--auth-root-authentication-method=socket", "--skip-name-resolve", timeout=120,
        )  # fmt: skip
        (self.logs / "mariadb-install-db.log").write_text(install.stdout + install.stderr)
        self._spawn(
            "mariadbd",
            [
                "mariadbd", "--no-defaults", "--user=root", f"--datadir={data}", f"--socket={self.mysql_socket}",
                f"--pid-file={self.root / 'mysql' / 'mysqld.pid'}", "--bind-address=127.0.0.1",
                f"--port={self.ports['mysql']}", "--skip-name-resolve", "--skip-log-bin",
                "--innodb-buffer-pool-size=64M", "--innodb-flush-log-at-trx-commit=0", "--innodb-doublewrite=0",
                f"--log-error={self.logs / 'mariadb.log'}",
            ],
        )  # fmt: skip
        ping = ["mysqladmin", "--no-defaults", "-S", str(self.mysql_socket), "ping"]
        self._wait("MariaDB answers", lambda: self.run(*ping, check=False).returncode == 0)
        sql = (
            "CREATE DATABASE IF NOT EXISTS slurm_acct_db;"
            "CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurmpw';"
            "GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';"
            "FLUSH PRIVILEGES;"
        )
        self.run("mysql", "--no-defaults", "-S", str(self.mysql_socket), "-u", "root", "-e", sql)

    def _write_configs(self) -> None:
        if self.cpus:
            layout = (
                f"CPUs={self.cpus} Boards=1 SocketsPerBoard=1 CoresPerSocket={self.cpus} ThreadsPerCore=1"
            )
        else:
            layout = self._detected_layout()
        gres_lines = []
        for i in range(self.gpus):
            fake = self.root / "dev" / f"nvidia{i}"
            if not fake.exists():
                os.mknod(
                    fake, 0o666 | stat.S_IFCHR, os.makedev(1, 3)
                )  # a second /dev/null: slurmd wants a device
            gres_lines.append(f"NodeName={self.node} Name=gpu Type={self.gpu_type} File={fake}")
        if self.accounting:
            accounting = (
                "AccountingStorageType=accounting_storage/slurmdbd\n"
                "AccountingStorageHost=127.0.0.1\n"
                f"AccountingStoragePort={self.ports['slurmdbd']}\n"
                f"AccountingStoragePass={self.munge_socket}\n"  # the munge socket for talking to slurmdbd
                "AccountingStorageTRES=gres/gpu\n"
                "AccountingStoreFlags=job_comment\n"  # sacct shows the plugin's --comment rule_<name>...
                "JobAcctGatherType=jobacct_gather/linux\n"
            )
        else:
            accounting = (
                "AccountingStorageType=accounting_storage/none\nJobAcctGatherType=jobacct_gather/none\n"
            )
        gres = f"Gres=gpu:{self.gpu_type}:{self.gpus} " if self.gpus else ""
        self.slurm_conf.write_text(
            f"""# written by tests/slurm/cluster.py for a throwaway test cluster
ClusterName=mumotest
SlurmctldHost={self.host}(127.0.0.1)
SlurmctldPort={self.ports["slurmctld"]}
SlurmdPort={self.ports["slurmd"]}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={self.munge_socket}
CryptoType=crypto/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
{accounting}JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SlurmdParameters=config_overrides
ReturnToService=2
MinJobAge={self.min_job_age_s}
KillWait=5
InactiveLimit=0
StateSaveLocation={self.root / "state"}
SlurmdSpoolDir={self.root / "spool"}
SlurmctldPidFile={self.root / "slurmctld.pid"}
SlurmdPidFile={self.root / "slurmd.pid"}
SlurmctldLogFile={self.logs / "slurmctld.log"}
SlurmdLogFile={self.logs / "slurmd.log"}
GresTypes=gpu
NodeName={self.node} NodeHostname={self.host} NodeAddr=127.0.0.1 {layout} RealMemory={self.memory_mb} \
{gres}Features={self.feature} State=UNKNOWN
PartitionName=cpu Nodes={self.node} Default=YES MaxTime=120 State=UP
PartitionName=gpu Nodes={self.node} Default=NO MaxTime=120 State=UP
"""
        )
        (self.etc / "gres.conf").write_text("".join(line + "\n" for line in gres_lines))
        if not self.accounting:
            return
        dbd = self.etc / "slurmdbd.conf"
        dbd.write_text(
            f"""AuthType=auth/munge
AuthInfo=socket={self.munge_socket}
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort={self.ports["slurmdbd"]}
SlurmUser=root
LogFile={self.logs / "slurmdbd.log"}
PidFile={self.root / "slurmdbd.pid"}
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort={self.ports["mysql"]}
StorageLoc=slurm_acct_db
StorageUser=slurm
StoragePass=slurmpw
"""
        )
        dbd.chmod(0o600)

    def _detected_layout(self) -> str:
        """The node line `slurmd -C` reports (CPUs, boards, sockets, cores, threads)."""
        done = subprocess.run([which("slurmd") or "slurmd", "-C"], capture_output=True, text=True, timeout=30)
        first = done.stdout.splitlines()[0] if done.stdout else ""
        pairs = dict(item.split("=", 1) for item in first.split() if "=" in item)
        keys = ("CPUs", "Boards", "SocketsPerBoard", "CoresPerSocket", "ThreadsPerCore")
        if "CPUs" not in pairs:
            return f"CPUs={os.cpu_count() or 1}"
        return " ".join(f"{k}={pairs[k]}" for k in keys if k in pairs)


def _main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "up":
        print("usage: python tests/slurm/cluster.py up ROOT", file=sys.stderr)
        return 2
    ensure_packages()
    with LocalSlurmCluster(Path(argv[1])) as cluster:
        holder = cluster._holder.pid
        print(
            f"up in {cluster.timings['start_s']:.1f} s. Clients must run inside its namespaces:\n"
            f"  SLURM_CONF={cluster.slurm_conf} nsenter --net=/proc/{holder}/ns/net --mount=/proc/{holder}/ns/mnt"
            " -- sinfo\nCtrl-C stops it."
        )
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
