"""Fixtures for the engine tests: Docker Engine, Podman and containerd, each started on
private sockets and directories, running containers through ecifs-runc against an
ecifs daemon of the test (the integration suite's fixtures), stopped by pid.

Around every test the host is compared before and after (`host_state`): sysctls the
engines are known to touch, the network links, the top-level cgroups, the files and
directories the engines would create in their default places, the users and id
ranges. A test fails if anything differs or if any mount, process or cgroup of it is
left, in any mount namespace.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


# An engine test loads an image and copies it per container (vfs, id-shifted copies):
# give it longer than an integration test before the watchdog kills its daemon.
os.environ.setdefault("ECIFS_TEST_WATCHDOG", "600")


sys.path.insert(0, str(HERE.parent))
import integration_fixtures  # noqa: E402

integration = integration_fixtures.load()
# The daemon fixtures, as the integration tests have them.
binaries, work_dir, watchdog = integration.binaries, integration.work_dir, integration.watchdog
make_daemon, daemon = integration.make_daemon, integration.daemon
MiB, NAME_PREFIX, ECIFS_RUNC = integration.MiB, integration.NAME_PREFIX, integration.ECIFS_RUNC
# The recipes the README and the package give users (packaging/examples): each engine
# test runs its engine from the recipe, with the build's ecifs-runc for /usr/bin's.
EXAMPLES = integration.REPO / "packaging" / "examples"
INSTALLED_RUNC = "/usr/bin/ecifs-runc"
new_name, wait_for = integration.new_name, integration.wait_for

import image  # noqa: E402

# Seconds an engine has to come up, and a container to start (vfs copies the image).
ENGINE_READY_TIMEOUT = 60
ENGINE_STOP_TIMEOUT = 30


# ---------------------------------------------------------------------------------
# what each engine needs


def require_programs(*names: str) -> None:
    """Fail (never skip) with the reason when a program an engine needs is missing."""
    missing = [n for n in names if not shutil.which(n, path=integration.SYS_PATH)]
    if missing:
        pytest.fail(f"this machine cannot run the engine test: {', '.join(missing)} not installed "
                    "(scripts/setup.sh installs them)", pytrace=False)


@pytest.fixture(scope="session")
def test_image() -> Path:
    try:
        return image.ensure_image()
    except RuntimeError as e:
        pytest.fail(f"cannot build the test image: {e}", pytrace=False)


# ---------------------------------------------------------------------------------
# the host, before and after

WATCHED_SYSCTLS = [
    "kernel.panic", "net.ipv4.ip_forward", "net.ipv4.conf.all.forwarding", "net.ipv6.conf.all.forwarding",
    "kernel.keys.root_maxkeys", "kernel.keys.root_maxbytes", "net.bridge.bridge-nf-call-iptables",
    "net.bridge.bridge-nf-call-ip6tables", "vm.overcommit_memory", "kernel.pid_max", "fs.file-max",
]
# Where the engines keep things by default: none of it may appear (or change).
WATCHED_PATHS = [
    "/run/containerd", "/opt/containerd", "/var/lib/containerd", "/var/lib/docker", "/run/docker",
    "/run/docker.sock", "/var/run/docker.sock", "/etc/docker/key.json", "/var/lib/containers",
    "/run/containers", "/run/libpod", "/var/lib/cni", "/run/netns", "/dev/shm/libpod_lock",
    "/etc/cni/net.d", "/run/runc", "/run/crun",
]
WATCHED_FILES = ["/etc/passwd", "/etc/group", "/etc/subuid", "/etc/subgid"]


def read_sysctl(name: str) -> str | None:
    try:
        return Path("/proc/sys", *name.split(".")).read_text().strip()
    except OSError:
        return None


def path_state(path: str) -> str:
    p = Path(path)
    if not p.exists():
        return "absent"
    if p.is_dir():
        return "dir: " + ",".join(sorted(os.listdir(p)))
    return "file"


def file_digest(path: str) -> str:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
    except OSError as e:
        return f"unreadable ({e.strerror})"


def top_cgroups() -> list[str]:
    """The cgroups below each hierarchy's root, but the test suites' own (ecifs-test-*,
    which other suites on this machine make and remove while we run; ours are checked
    by name at the end of the session)."""
    found = []
    for root in integration.cgroup_roots():
        try:
            found += [f"{root}/{e.name}" for e in os.scandir(root)
                      if e.is_dir(follow_symlinks=False) and not e.name.startswith("ecifs-test-")]
        except OSError:
            pass
    return sorted(found)


def engine_links() -> list[str]:
    """Network links an engine would make (bridges, veths): none may appear."""
    return sorted(name for name in os.listdir("/sys/class/net")
                  if name.startswith(("docker", "cni", "podman", "br-", "veth", "nerdctl")))


def host_snapshot() -> dict:
    return {
        "sysctls": {name: read_sysctl(name) for name in WATCHED_SYSCTLS},
        "paths": {path: path_state(path) for path in WATCHED_PATHS},
        "files": {path: file_digest(path) for path in WATCHED_FILES},
        "links": engine_links(),
        "cgroups": top_cgroups(),
    }


def describe_changes(before: dict, after: dict) -> list[str]:
    changes = []
    for kind in before:
        if isinstance(before[kind], dict):
            for key in sorted(set(before[kind]) | set(after[kind])):
                if before[kind].get(key) != after[kind].get(key):
                    changes.append(f"{kind} {key}: {before[kind].get(key)!r} -> {after[kind].get(key)!r}")
        elif before[kind] != after[kind]:
            added = sorted(set(after[kind]) - set(before[kind]))
            gone = sorted(set(before[kind]) - set(after[kind]))
            changes.append(f"{kind}: added {added}, gone {gone}")
    return changes


def mounts_in_every_namespace(base: Path) -> list[str]:
    """Mounts under `base` seen by any process, in whatever mount namespace."""
    base_text = str(base).rstrip("/") + "/"
    found, seen = set(), set()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            ns = os.readlink(f"/proc/{entry.name}/ns/mnt")
            if ns in seen:
                continue
            seen.add(ns)
            with open(f"/proc/{entry.name}/mountinfo") as f:
                for line in f:
                    point = integration._unescape(line.split(" ")[4])  # noqa: SLF001 (mountinfo's escapes)
                    if point.startswith(base_text):
                        found.add(f"{point} (in {ns}, pid {entry.name})")
        except OSError:
            continue
    return sorted(found)


def processes_using(base: Path, but: set[int]) -> list[int]:
    """Pids whose command line or working directory names `base` (the engines' own
    processes and their shims), other than this one and those in `but`."""
    base_text = str(base)
    pids = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid() or int(entry.name) in but:
            continue
        try:
            cmdline = Path(f"/proc/{entry.name}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(f"/proc/{entry.name}/cwd")
        except OSError:
            continue
        if base_text in cmdline or cwd.startswith(base_text):
            pids.append(int(entry.name))
    return pids


@pytest.fixture
def host_state(work_dir, daemon):
    """Fails the test if the host differs afterwards, or something of it is left (but
    the test's ecifs daemon and its fd holder, stopped after this check: no mount may be left)."""
    before = host_snapshot()
    yield before
    problems = []
    left = processes_using(work_dir, but={daemon.pid, daemon.holder_pid()})  # the daemon's own
    for pid in left:  # started by this test's engines: end them by pid
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if left:
        problems.append(f"processes left: {left}")
    mounts = mounts_in_every_namespace(work_dir)
    if mounts:
        problems.append(f"mounts left: {mounts}")
    problems += describe_changes(before, host_snapshot())
    assert not problems, "the host changed or something was left:\n  " + "\n  ".join(problems)


# ---------------------------------------------------------------------------------
# engines


class Engine:
    """A daemon process of an engine, started with private paths, stopped by pid."""

    name = "engine"

    # Paths the engine makes in fixed places whatever its configuration (containerd's
    # shim sockets go to /run/containerd/s, dockerd's plugin directory to /run/docker,
    # ...): removed after it stops if they were not there before it started.
    default_paths: list[str] = []

    def __init__(self, work: Path):
        self.absent_before = [p for p in self.default_paths if not os.path.lexists(p)]
        self.dir = work / new_name(self.name)
        self.dir.mkdir(mode=0o755)
        os.chmod(self.dir, 0o755)
        self.log_path = self.dir / f"{self.name}.log"
        self.proc: subprocess.Popen | None = None
        # Cgroups of the engine's containers go below this one (removed at the end).
        self.cgroup_parent = f"{NAME_PREFIX}-{self.name}"

    def spawn(self, cmd: list[str], env: dict | None = None) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         env=env or integration.proc_env(), start_new_session=True)

    def wait_ready(self, ready) -> None:
        deadline = time.monotonic() + ENGINE_READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"{self.name} exited with {self.proc.returncode} while starting:\n{self.log_tail()}",
                            pytrace=False)
            if ready():
                return
            time.sleep(0.2)
        pytest.fail(f"{self.name} not ready after {ENGINE_READY_TIMEOUT}s:\n{self.log_tail()}", pytrace=False)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(ENGINE_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def run(self, cmd: list[str], timeout: float = 120, check: bool = True, **kw) -> subprocess.CompletedProcess:
        r = subprocess.run(cmd, capture_output=True, stdin=subprocess.DEVNULL, text=True, timeout=timeout,
                           env=kw.pop("env", None) or integration.proc_env(), **kw)
        if check and r.returncode != 0:
            pytest.fail(f"{' '.join(cmd)}: exit {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}\n"
                        f"--- {self.name} log ---\n{self.log_tail()}", pytrace=False)
        return r

    def remove_default_paths(self) -> None:
        """Only what was absent before, deepest first; a directory only if empty (a
        host's own engine that started meanwhile keeps its files)."""
        for path in sorted(self.absent_before, key=len, reverse=True):
            p = Path(path)
            try:
                if p.is_dir() and not p.is_symlink():
                    p.rmdir()
                elif p.exists():
                    p.unlink()
            except OSError as e:
                print(f"{self.name}: left {path}: {e}", file=sys.stderr)

    def remove_cgroup_parent(self) -> None:
        """The engine's containers' cgroups. Processes still in them are this test's
        containers, whose runtime could not end them (a failed `rm`): ended by pid, so
        nothing is left when the test fails."""
        for path in integration.cgroup_dirs(self.cgroup_parent):
            pids = {int(pid) for procs in Path(path).rglob("cgroup.procs") for pid in procs.read_text().split()}
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            if pids:
                print(f"{self.name}: ended processes left in {path}: {sorted(pids)}", file=sys.stderr)
            wait_for(lambda: not any(procs.read_text().strip() for procs in Path(path).rglob("cgroup.procs")), 10)
            integration.remove_cgroup_tree(path)
            if Path(path).exists():
                print(f"{self.name}: left cgroup {path}", file=sys.stderr)


def stop_and_clean(engine: Engine) -> None:
    engine.stop()
    engine.remove_cgroup_parent()
    engine.remove_default_paths()
    integration.unmount_all_under(engine.dir)


def panic_to_write(host_panic: str) -> str:
    """A kernel.panic value the host does not have."""
    return "7" if host_panic != "7" else "8"


def views_script(panic: str) -> str:
    """What one shell in the container prints about its views (parsed by check_views):
    the same under every engine."""
    return (
        "set -e\n"
        "echo \"meminfo $(head -n 1 /proc/meminfo | tr -s ' ')\"\n"
        "echo \"free $(free -m | awk '/^Mem:/ {print $2}')\"\n"
        "echo \"online $(cat /sys/devices/system/cpu/online)\"\n"
        "echo \"getconf $(getconf _NPROCESSORS_ONLN)\"\n"
        f"echo \"write $(sysctl -q -w kernel.panic={panic} 2>/dev/null && echo ok || echo refused)\"\n"
        "echo \"panic $(cat /proc/sys/kernel/panic)\"\n"
        "echo \"sysctl $(sysctl -n kernel.panic)\"\n"
    )


def parse_views(text: str) -> dict:
    return dict(line.split(" ", 1) for line in text.strip().splitlines() if " " in line)


def check_views(text: str, memory_mib: int, cpus: int, host_panic: str, userns: bool) -> None:
    """With a user namespace the container's kernel.panic is its own (the write is
    kept by ecifs); without one /proc/sys stays read-only, as under runc, and the
    container sees the host's value (issue 11, item 7)."""
    panic = panic_to_write(host_panic) if userns else host_panic
    seen = parse_views(text)
    expected = {
        "meminfo": f"MemTotal: {memory_mib * 1024} kB",
        "free": str(memory_mib),
        "online": "0" if cpus == 1 else f"0-{cpus - 1}",
        "getconf": str(cpus),
        "write": "ok" if userns else "refused",
        "panic": panic,
        "sysctl": panic,
    }
    assert seen == expected, f"the container saw:\n{text}"
    assert read_sysctl("kernel.panic") == host_panic, "the container's sysctl write reached the host"
