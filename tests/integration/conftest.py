"""Fixtures for the ecifs integration tests: a daemon per test, real runc containers
through ecifs-runc, pseudo-containers registered with ecifsctl, and cleanup that runs
even when a test fails.

Binaries come from $ECIFS_BIN_DIR (default: <repo>/build). Everything a test creates
lives under one temporary directory per session (/tmp/ecifs-it-XXXXXX, mode 0755 so
that a user-namespaced container root can traverse it); cgroups are created only by
runc, under names starting with ecifs-test-<session token>. At the end of the session
no FUSE mount and no such cgroup may be left: the session fixture fails otherwise.
"""
from __future__ import annotations

import itertools
import json
import os
import re
import secrets
import select
import signal
import socket
import stat
import struct
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ecifs_bundle  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
BIN_DIR = Path(os.environ.get("ECIFS_BIN_DIR") or REPO / "build").resolve()
ECIFS = BIN_DIR / "ecifs"
ECIFSCTL = BIN_DIR / "ecifsctl"
ECIFS_RUNC = BIN_DIR / "ecifs-runc"
SYS_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

TOKEN = secrets.token_hex(3)
NAME_PREFIX = f"ecifs-test-{TOKEN}"  # container ids and cgroup names
_names = itertools.count(1)

MiB = 1024 * 1024
DAEMON_READY_TIMEOUT = 10.0
DAEMON_STOP_TIMEOUT = 10.0
# A test that takes longer than this gets its daemons killed, so that a reader blocked
# on a FUSE request of a hung daemon fails (ENOTCONN) instead of hanging the suite.
TEST_WATCHDOG_SECONDS = float(os.environ.get("ECIFS_TEST_WATCHDOG", "180"))


def pytest_configure(config):
    config.addinivalue_line("markers", "asan: the subset also run against the ASan build")


def new_name(kind: str = "c") -> str:
    return f"{NAME_PREFIX}-{kind}{next(_names)}"


def proc_env(**extra: str) -> dict:
    env = dict(os.environ)
    path = env.get("PATH", "")
    env["PATH"] = SYS_PATH + (":" + path if path else "")
    env.update(extra)
    return env


# ---------------------------------------------------------------------------------
# mounts, cgroups, waiting


def _unescape(field: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def mountinfo() -> list[dict]:
    """The calling process's mounts: [{"mountpoint", "fstype", "source", "options"}]."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.rstrip("\n").partition(" - ")
            fields = pre.split(" ")
            fstype, source, *rest = post.split(" ")
            out.append({"mountpoint": _unescape(fields[4]), "options": fields[5],
                        "fstype": fstype, "source": _unescape(source)})
    return out


def _under(path: str, base: Path | str) -> bool:
    base = str(base).rstrip("/")
    return path == base or path.startswith(base + "/")


def mounts_under(base: Path | str, fuse_only: bool = False) -> list[str]:
    return [m["mountpoint"] for m in mountinfo()
            if _under(m["mountpoint"], base) and (not fuse_only or m["fstype"].startswith("fuse"))]


def fuse_mounts_under(base: Path | str) -> list[str]:
    return mounts_under(base, fuse_only=True)


def quit_fd_holder(path: Path) -> None:
    """A daemon killed and not started again leaves its fd holder (docs/restart.md)
    keeping its containers' connections: tell it to let go and exit."""
    if not path.exists():
        return
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
        s.settimeout(5)
        try:
            s.connect(str(path))
            s.send(b"quit")
            s.recv(64)
        except OSError:
            pass  # it ended meanwhile


def unmount_all_under(base: Path | str) -> list[str]:
    """Lazily unmount every mount under base (deepest first); returns what was there."""
    found = mounts_under(base)
    for mp in sorted(found, key=len, reverse=True):
        subprocess.run(["umount", "-l", mp], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return found


def safe_rmtree(path: Path | str) -> None:
    """rm -rf that first unmounts what is mounted below, never deletes through a
    mount that is still there and never crosses into another filesystem."""
    path = Path(path)
    if not os.path.lexists(path):
        return
    unmount_all_under(path)
    left = mounts_under(path)
    if left:
        raise RuntimeError(f"refusing to delete {path}: still mounted: {left}")
    dev = os.lstat(path).st_dev

    def rm(p: str) -> None:
        try:
            st = os.lstat(p)
            if stat.S_ISDIR(st.st_mode):
                if st.st_dev != dev:
                    return
                for e in os.scandir(p):
                    rm(e.path)
                os.rmdir(p)
            else:
                os.unlink(p)
        except OSError as e:
            print(f"safe_rmtree: {p}: {e}", file=sys.stderr)

    rm(str(path))


def cgroup_roots() -> list[Path]:
    return [Path(m["mountpoint"]) for m in mountinfo() if m["fstype"] in ("cgroup", "cgroup2")]


def cgroup_dirs(name_prefix: str) -> list[Path]:
    """Every cgroup directory directly below a hierarchy's root whose name starts with
    name_prefix (the tests' cgroupsPath is /<name>)."""
    found = []
    for root in cgroup_roots():
        try:
            for e in os.scandir(root):
                if e.name.startswith(name_prefix) and e.is_dir(follow_symlinks=False):
                    found.append(Path(e.path))
        except OSError:
            pass
    return found


def remove_cgroup_tree(path: Path) -> None:
    """rmdir a cgroup created by runc for a test, children first (only our names)."""
    for dirpath, dirnames, _ in sorted(os.walk(path), key=lambda t: -len(t[0])):
        try:
            os.rmdir(dirpath)
        except OSError:
            pass


def build_static_probe(work_dir: Path, source: Path, *flags: str) -> Path:
    """A C probe built static (it runs in any rootfs, busybox's too) into the test
    session's directory, once; the test is skipped where gcc is missing."""
    if not shutil.which("gcc"):
        pytest.skip(f"gcc is needed to build {source.name}")
    out = work_dir / source.stem
    if not out.exists():
        subprocess.run(["gcc", "-O2", "-static", *flags, "-Wall", "-Wextra", "-Werror", "-o", str(out), str(source)],
                       check=True)
    return out


def install_probe(c: "Container", binary: Path) -> str:
    """Copy a probe into the container's /tmp (the rootfs's); its path inside."""
    target = c.bundle / "rootfs" / "tmp" / binary.name
    shutil.copyfile(binary, target)
    os.chmod(target, 0o755)
    return f"/tmp/{binary.name}"


def wait_for(pred, timeout: float, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def meminfo_field(text: str, key: str) -> int:
    m = re.search(rf"^{re.escape(key)}:\s+(\d+)", text, re.M)
    assert m, f"no {key} in:\n{text}"
    return int(m.group(1))


# ---------------------------------------------------------------------------------
# control socket


def exchange(sock_path: Path | str, data: bytes, timeout: float = 5.0) -> bytes:
    """Connect, send data, return what comes back up to the first newline or EOF."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(sock_path))
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        buf = b""
        while b"\n" not in buf:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            buf += chunk
        return buf


def request(sock_path: Path | str, obj, timeout: float = 5.0) -> dict:
    raw = exchange(sock_path, json.dumps(obj).encode() + b"\n", timeout)
    assert raw.endswith(b"\n"), f"no reply line to {obj!r}: {raw!r}"
    reply = json.loads(raw)
    assert isinstance(reply, dict), raw
    return reply


# ---------------------------------------------------------------------------------
# the daemon


class Daemon:
    def __init__(self, work: Path, bin_dir: Path = BIN_DIR):
        self.name = new_name("d")
        self.dir = work / self.name
        self.dir.mkdir(mode=0o755)
        os.chmod(self.dir, 0o755)
        self.state_dir = self.dir / "state"
        self.state_dir.mkdir(mode=0o755)
        os.chmod(self.state_dir, 0o755)
        (self.dir / "run").mkdir(mode=0o755)
        os.chmod(self.dir / "run", 0o755)
        self.socket = self.dir / "run" / "ecifs.sock"
        self.log_path = self.dir / "ecifs.log"
        self.bin_dir = bin_dir
        self.proc: subprocess.Popen | None = None
        self.returncode: int | None = None

    @property
    def containers_dir(self) -> Path:
        return self.state_dir / "containers"

    def start(self, *extra: str, log_level: str = "debug") -> "Daemon":
        cmd = [str(self.bin_dir / "ecifs"), "--foreground", "--state-dir", str(self.state_dir),
               "--socket", str(self.socket), "--log-level", log_level, *extra]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, env=proc_env(),
                                         start_new_session=True)
        deadline = time.monotonic() + DAEMON_READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"ecifs exited with {self.proc.returncode} while starting:\n"
                                     + self.log_tail())
            if self.socket.exists() and self.ctl("list").returncode == 0:
                return self
            time.sleep(0.05)
        raise AssertionError(f"ecifs not ready after {DAEMON_READY_TIMEOUT}s:\n" + self.log_tail())

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def ctl(self, *args: str, timeout: float = 15) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.bin_dir / "ecifsctl"), "--socket", str(self.socket), *args],
                              capture_output=True, stdin=subprocess.DEVNULL, text=True,
                              timeout=timeout, env=proc_env())

    def ctl_json(self, *args: str) -> dict:
        r = self.ctl(*args)
        assert r.returncode == 0, f"ecifsctl {' '.join(args)}: rc={r.returncode}\n{r.stdout}{r.stderr}"
        return json.loads(r.stdout)

    def request(self, obj, timeout: float = 5.0) -> dict:
        return request(self.socket, obj, timeout)

    def listing(self) -> str:
        """The JSON text of a `list` reply (tests look for ids in it)."""
        return json.dumps(self.ctl_json("list"))

    def stop(self, sig: int = signal.SIGTERM, timeout: float = DAEMON_STOP_TIMEOUT) -> int | None:
        """Signal the daemon (by its pid) and wait; SIGKILL after the timeout.
        Returns the exit code of the first wait (None if it had to be killed)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            try:
                self.returncode = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
                self.returncode = None
        else:
            self.returncode = self.proc.returncode
        return self.returncode

    def holder_pid(self) -> int | None:
        """The pid of the daemon's fd holder (docs/restart.md), from its socket's peer
        credentials; None if none serves."""
        path = self.state_dir / "holder.sock"
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
            try:
                s.connect(str(path))
            except OSError:
                return None
            creds = s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
            return struct.unpack("3i", creds)[0]

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)

    def cleanup(self) -> None:
        if self.running():  # the full stop; a signal would leave the containers (docs/restart.md)
            try:
                self.ctl("stop-all", timeout=30)
            except subprocess.TimeoutExpired:
                pass
        self.stop()
        quit_fd_holder(self.state_dir / "holder.sock")
        unmount_all_under(self.dir)

    def log_tail(self, lines: int = 80) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no daemon log)"
        return "\n".join(text.splitlines()[-lines:])


# ---------------------------------------------------------------------------------
# containers


class Container:
    def __init__(self, mgr: "Containers", cid: str, bundle: Path):
        self.mgr = mgr
        self.id = cid
        self.bundle = bundle

    def exec(self, script: str, check: bool = True, timeout: float = 60) -> str:
        r = self.mgr.shim("exec", self.id, "sh", "-c", script, timeout=timeout)
        if check:
            assert r.returncode == 0, (f"exec in {self.id}: {script!r}: rc={r.returncode}\n"
                                       f"stdout:\n{r.stdout}\nstderr:\n{r.stderr}")
        return r.stdout

    def state(self) -> dict:
        r = self.mgr.runc("state", self.id)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    @property
    def pid(self) -> int:
        return int(self.state()["pid"])

    def cgroup_dirs(self) -> list[Path]:
        return [p for p in cgroup_dirs(self.id) if p.name == self.id]


class Containers:
    """Containers of one test, run by runc with its own --root; all deleted at the end."""

    def __init__(self, work: Path, socket_path: Path | str, daemon: Daemon | None = None,
                 bin_dir: Path = BIN_DIR):
        self.dir = work / new_name("r")
        self.dir.mkdir(mode=0o755)
        os.chmod(self.dir, 0o755)
        self.root = self.dir / "runc-root"
        self.root.mkdir(mode=0o700)
        self.socket = str(socket_path)
        self.daemon = daemon
        self.bin_dir = bin_dir
        self.ids: list[str] = []

    def env(self) -> dict:
        return proc_env(ECIFS_SOCKET=self.socket)

    def shim(self, *args: str, timeout: float = 60, **kw) -> subprocess.CompletedProcess:
        kw.setdefault("capture_output", True)
        kw.setdefault("stdin", subprocess.DEVNULL)
        return subprocess.run([str(self.bin_dir / "ecifs-runc"), "--root", str(self.root), *args],
                              text=True, timeout=timeout, env=self.env(), **kw)

    def runc(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(["runc", "--root", str(self.root), *args], capture_output=True,
                              stdin=subprocess.DEVNULL, text=True, timeout=timeout, env=proc_env())

    def runc_ids(self) -> list[str]:
        r = self.runc("list", "--format", "json")
        assert r.returncode == 0, r.stderr
        return [c["id"] for c in (json.loads(r.stdout) or [])]

    def make_bundle(self, cid: str, memory: int | None = None, cpus: float | None = None,
                    userns: bool = True, args: list[str] | None = None,
                    cpuset: str | None = None, edit_config=None, **config_kw) -> Path:
        bundle = ecifs_bundle.make_bundle(self.dir / cid, args or ["sleep", "infinity"],
                                          userns=userns, memory_limit=memory, cpus=cpus,
                                          cgroups_path=f"/{cid}", hostname=cid[-20:], **config_kw)
        if cpuset is not None or edit_config is not None:
            cfg = ecifs_bundle.read_config(bundle)
            if cpuset is not None:  # linux.resources.cpu.cpus, e.g. "0" or "0-1"
                cfg["linux"]["resources"].setdefault("cpu", {})["cpus"] = cpuset
            if edit_config is not None:  # any other change: edit_config(config_dict)
                edit_config(cfg)
            ecifs_bundle.write_config(bundle, cfg)
        return bundle

    def _diag(self, what: str, rc: int, out: str) -> str:
        msg = f"{what}: rc={rc}\n{out}"
        if self.daemon is not None:
            msg += "\n--- daemon log ---\n" + self.daemon.log_tail()
        return msg

    def start(self, memory: int | None = None, cpus: float | None = None, userns: bool = True,
              how: str = "run", check: bool = True, cpuset: str | None = None,
              edit_config=None, **config_kw) -> Container:
        """Start `sleep infinity` in a new container through ecifs-runc, detached.
        how="run": `run -d`; how="create": `create` then `start`. config_kw go to
        ecifs_bundle.make_config (e.g. extra_caps); cpuset: its CPUs ("0"); edit_config:
        a function that changes the config.json dict before the start."""
        cid = new_name("c")
        bundle = self.make_bundle(cid, memory, cpus, userns, cpuset=cpuset, edit_config=edit_config,
                                  **config_kw)
        self.ids.append(cid)
        # The detached container inherits runc's stdio: give it files, not pipes, so that
        # waiting for runc never waits for the container.
        out_path = self.dir / f"{cid}.out"
        with open(out_path, "w") as out:
            if how == "run":
                r = self.shim("run", "-d", "-b", str(bundle), cid, capture_output=False,
                              stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
            else:
                r = self.shim("create", "-b", str(bundle), cid, capture_output=False,
                              stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
                if r.returncode == 0:
                    r = self.shim("start", cid, capture_output=False, stdin=subprocess.DEVNULL,
                                  stdout=out, stderr=subprocess.STDOUT)
        if check:
            assert r.returncode == 0, self._diag(f"ecifs-runc {how} {cid}", r.returncode,
                                                 out_path.read_text(errors="replace"))
        return Container(self, cid, bundle)

    def start_plain(self, memory: int | None = None, cpus: float | None = None, **config_kw) -> Container:
        """The same kind of container run by plain runc, without ecifs: what a test
        compares with. Its exec() passes through ecifs-runc untouched."""
        cid = new_name("plain")
        bundle = self.make_bundle(cid, memory, cpus, **config_kw)
        self.ids.append(cid)
        out_path = self.dir / f"{cid}.out"
        with open(out_path, "w") as out:  # not pipes: the detached container keeps them
            r = subprocess.run(["runc", "--root", str(self.root), "run", "-d", "-b", str(bundle), cid],
                               stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, timeout=60,
                               env=proc_env())
        assert r.returncode == 0, f"runc run {cid}: rc={r.returncode}\n{out_path.read_text(errors='replace')}"
        return Container(self, cid, bundle)

    def cleanup(self) -> list[str]:
        """Delete every container of the test; returns problems (left cgroups)."""
        problems = []
        for cid in self.ids:
            try:
                if cid in self.runc_ids():
                    self.shim("delete", "-f", cid, timeout=30)
                if cid in self.runc_ids():
                    self.runc("delete", "-f", cid, timeout=30)
            except Exception as e:  # keep cleaning the others
                problems.append(f"deleting {cid}: {e}")
        # runc removes the cgroups it created on delete; give it a moment.
        for cid in self.ids:
            wait_for(lambda: not [p for p in cgroup_dirs(cid) if p.name == cid], 5)
            left = [p for p in cgroup_dirs(cid) if p.name == cid]
            if left:
                problems.append(f"cgroups of {cid} left: {[str(p) for p in left]}")
                for p in left:
                    remove_cgroup_tree(p)
        unmount_all_under(self.dir)
        return problems


class PseudoContainer:
    """A container registered with ecifsctl prepare + start, whose init is a `sleep`
    of ours (no runc): for tests of the mount itself."""

    def __init__(self, daemon: Daemon, root_uid: int | None = None, root_gid: int | None = None):
        self.daemon = daemon
        self.id = new_name("p")
        args = ["prepare", self.id]
        if root_uid is not None:
            args += ["--root-uid", str(root_uid)]
        if root_gid is not None:
            args += ["--root-gid", str(root_gid)]
        self.sleep = subprocess.Popen(["sleep", "600"], stdin=subprocess.DEVNULL)
        self.prepared = daemon.ctl_json(*args)
        self.mount = Path(self.prepared["mount"])
        self.started = daemon.ctl_json("start", self.id, str(self.sleep.pid))

    def path(self, rel: str) -> Path:
        return self.mount / rel

    def cleanup(self) -> None:
        if self.daemon.running():
            self.daemon.ctl("remove", self.id)
        if self.sleep.poll() is None:
            self.sleep.kill()
        self.sleep.wait(10)


# ---------------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="session")
def binaries():
    missing = [str(p) for p in (ECIFS, ECIFSCTL, ECIFS_RUNC) if not os.access(p, os.X_OK)]
    if missing:
        pytest.fail(f"ecifs binaries missing (ECIFS_BIN_DIR={BIN_DIR}): {missing}; "
                    "build with scripts/build.sh", pytrace=False)
    return BIN_DIR


@pytest.fixture(scope="session")
def work_dir():
    """The session's temporary directory. At the end: nothing may be mounted below it
    and no cgroup of ours may remain (checked, then cleaned anyway)."""
    base = Path(tempfile.mkdtemp(prefix="ecifs-it-", dir="/tmp"))
    os.chmod(base, 0o755)
    yield base
    problems = []
    left = mounts_under(base)
    if left:
        problems.append(f"mounts left under {base}: {left}")
    cgs = cgroup_dirs(NAME_PREFIX)
    if cgs:
        problems.append(f"cgroups left: {[str(p) for p in cgs]}")
        for p in cgs:
            remove_cgroup_tree(p)
    safe_rmtree(base)
    assert not problems, "; ".join(problems)


@pytest.fixture
def watchdog():
    """Daemons registered here are SIGKILLed if the test runs too long."""
    daemons: list[Daemon] = []

    def fire():
        for d in daemons:
            print(f"watchdog: test exceeded {TEST_WATCHDOG_SECONDS}s, killing ecifs {d.pid}",
                  file=sys.stderr)
            d.kill()

    t = threading.Timer(TEST_WATCHDOG_SECONDS, fire)
    t.daemon = True
    t.start()
    yield daemons
    t.cancel()


@pytest.fixture
def make_daemon(binaries, work_dir, watchdog):
    """Factory: make_daemon(start=True) -> Daemon; all stopped and cleaned at the end."""
    made: list[Daemon] = []

    def make(start: bool = True, log_level: str = "debug", extra: tuple[str, ...] = ()) -> Daemon:
        d = Daemon(work_dir)
        made.append(d)
        if start:
            d.start(*extra, log_level=log_level)
            watchdog.append(d)
        return d

    yield make
    for d in made:
        d.cleanup()
        print(f"--- ecifs log ({d.name}, exit {d.returncode}) ---\n{d.log_tail(200)}")
    for d in made:
        left = fuse_mounts_under(d.dir)
        assert not left, f"FUSE mounts left: {left}"


@pytest.fixture
def daemon(make_daemon) -> Daemon:
    return make_daemon()


@pytest.fixture
def containers(binaries, work_dir, daemon):
    """Containers through ecifs-runc talking to this test's daemon."""
    mgr = Containers(work_dir, daemon.socket, daemon)
    yield mgr
    problems = mgr.cleanup()
    assert not problems, "; ".join(problems)


@pytest.fixture
def make_pseudo(daemon):
    made: list[PseudoContainer] = []

    def make(root_uid: int | None = None, root_gid: int | None = None) -> PseudoContainer:
        p = PseudoContainer(daemon, root_uid, root_gid)
        made.append(p)
        return p

    yield make
    for p in made:
        p.cleanup()


@pytest.fixture
def pseudo(make_pseudo) -> PseudoContainer:
    return make_pseudo(100000, 100000)


def run_as(uid: int, gid: int, fn, timeout: float = 20.0):
    """Run fn() in a forked child with the given ids (no supplementary groups); returns
    its JSON-serialisable result, or raises with the child's exception text."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.close(r)
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            payload = {"ok": fn()}
        except BaseException as e:  # noqa: BLE001
            payload = {"error": f"{type(e).__name__}: {e}"}
        try:
            os.write(w, json.dumps(payload).encode())
        except BaseException:  # noqa: BLE001
            code = 1
        os._exit(code)
    os.close(w)
    data = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([r], [], [], 0.1)
            if ready:
                chunk = os.read(r, 65536)
                if not chunk:
                    break
                data += chunk
    finally:
        os.close(r)
        if not os.waitpid(pid, os.WNOHANG)[0]:
            if time.monotonic() >= deadline:
                os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    result = json.loads(data or b'{"error": "child wrote nothing"}')
    if "error" in result:
        raise AssertionError(f"as uid {uid}: {result['error']}")
    return result["ok"]
