"""The seccomp trapper (issue 4): sysinfo, mount and umount2 answered by ecifs for real
runc containers with a user namespace and a 256 MiB limit, started through ecifs-runc
("done means" 1-7)."""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import MiB, Container, build_static_probe, install_probe, meminfo_field, new_name, run_as, wait_for

HERE = Path(__file__).resolve().parent
PROBE_SOURCE = HERE / "sysinfo_probe.c"
DOCKER_PROFILE = HERE.parent / "fixtures" / "seccomp" / "docker-default.json"
LIMIT = 256 * MiB
PROBE = "/tmp/sysinfo_probe"  # where install_probe puts it inside a container


# ---------------------------------------------------------------------------------
# helpers


@pytest.fixture(scope="session")
def probe_binary(work_dir) -> Path:
    """tests/integration/sysinfo_probe.c."""
    return build_static_probe(work_dir, PROBE_SOURCE)


def parse_probe(out: str) -> dict:
    values = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    assert "error" not in values, out
    return {k: (v if k == "loads" else int(v)) for k, v in values.items()}


def run_probe(c: Container, *args: str) -> dict:
    return parse_probe(c.exec(" ".join([PROBE, *args])))


def seccomp_socket(daemon) -> Path:
    """The daemon's listener: seccomp.sock beside its control socket by default."""
    return Path(daemon.socket).parent / "seccomp.sock"


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def fds_of(pid: int) -> dict:
    """fd -> what it is, for assertion messages."""
    out = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            out[int(fd)] = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            pass
    return out


def notify_fds(daemon, c: Container) -> int:
    return daemon.ctl_json("inspect", c.id)["container"]["seccomp_notify_fds"]


def container_uptime(c: Container) -> float:
    return float(c.exec("cat /proc/uptime").split()[0])


def host_uptime() -> float:
    return float(Path("/proc/uptime").read_text().split()[0])


def fails(c: Container, script: str) -> str:
    """Run a script that must fail; its stderr."""
    r = c.mgr.shim("exec", c.id, "sh", "-c", script)
    assert r.returncode != 0, f"{script!r} succeeded:\n{r.stdout}{r.stderr}"
    return r.stderr


def mount_points(c: Container) -> dict:
    """The container's mounts: mount point -> fstype."""
    out = {}
    for line in c.exec("cat /proc/self/mountinfo").splitlines():
        pre, _, post = line.partition(" - ")
        out[pre.split(" ")[4].replace("\\040", " ")] = post.split(" ")[0]
    return out


def compile_moby_profile(caps: list[str]) -> dict:
    """Docker's default profile (moby's format) as Docker writes it into config.json
    for an amd64 container with these capabilities: rules whose includes/excludes do
    not match are left out, archMap becomes architectures."""
    profile = json.loads(DOCKER_PROFILE.read_text())
    rules = []
    for rule in profile["syscalls"]:
        inc, exc = rule.get("includes", {}), rule.get("excludes", {})
        if inc.get("caps") and not all(cap in caps for cap in inc["caps"]):
            continue
        if inc.get("arches") and "amd64" not in inc["arches"]:
            continue
        if exc.get("caps") and any(cap in caps for cap in exc["caps"]):
            continue
        if exc.get("arches") and "amd64" in exc["arches"]:
            continue
        rules.append({k: rule[k] for k in ("names", "action", "args", "errnoRet") if k in rule})
    arches = next([m["architecture"], *(m["subArchitectures"] or [])] for m in profile["archMap"]
                  if m["architecture"] == "SCMP_ARCH_X86_64")
    return {"defaultAction": profile["defaultAction"], "defaultErrnoRet": profile["defaultErrnoRet"],
            "architectures": arches, "syscalls": rules}


def start_with_profile(containers, caps_extra: list[str]) -> Container:
    """A container whose config.json carries Docker's default profile before ecifs-runc
    sees it."""
    cid = new_name("c")
    bundle = containers.make_bundle(cid, LIMIT, extra_caps=caps_extra)
    cfg = json.loads((bundle / "config.json").read_text())
    cfg["linux"]["seccomp"] = compile_moby_profile(cfg["process"]["capabilities"]["bounding"])
    (bundle / "config.json").write_text(json.dumps(cfg, indent=2))
    containers.ids.append(cid)
    out_path = containers.dir / f"{cid}.out"
    with open(out_path, "w") as out:
        r = containers.shim("run", "-d", "-b", str(bundle), cid, capture_output=False, stdout=out,
                            stderr=subprocess.STDOUT)
    assert r.returncode == 0, containers._diag(f"ecifs-runc run {cid}", r.returncode, out_path.read_text())
    return Container(containers, cid, bundle)


# ---------------------------------------------------------------------------------
# 1. sysinfo


@pytest.mark.asan
def test_sysinfo_is_the_containers(containers, probe_binary):
    c = containers.start(memory=LIMIT)
    install_probe(c, probe_binary)
    host = parse_probe(subprocess.run([str(probe_binary)], capture_output=True, text=True, check=True).stdout)

    v = run_probe(c)
    assert v["totalram"] * v["mem_unit"] == 268435456
    assert v["mem_unit"] == 1
    assert 0 < v["freeram"] <= v["totalram"]
    assert v["totalhigh"] == v["freehigh"] == 0
    # procs: the tasks of the container's cgroup (the probe, its sh and the init), not
    # the host's hundreds.
    assert 1 <= v["procs"] < 20 < host["procs"]
    # The container's uptime (its /proc/uptime, rounded up), not the host's.
    up = container_uptime(c)
    assert up - 1 <= v["uptime"] <= up + 3
    assert v["uptime"] < host["uptime"] - 5 or host_uptime() < 10
    meminfo = c.exec("cat /proc/meminfo")
    assert v["totalswap"] == meminfo_field(meminfo, "SwapTotal") * 1024
    # The load averages of the container's /proc/loadavg (65536 is 1.0).
    loadavg = [float(x) for x in c.exec("cat /proc/loadavg").split()[:3]]
    loads = [int(x) / 65536 for x in v["loads"].split()]
    assert all(abs(a - b) <= 0.05 for a, b in zip(loads, loadavg)), (loads, loadavg)

    # busybox free and uptime call sysinfo(2).
    mem = next(line for line in c.exec("busybox free -b").splitlines() if line.startswith("Mem:"))
    assert int(mem.split()[1]) == 268435456
    out = c.exec("busybox uptime")
    m = re.search(r"up\s+(\d+) min,", out)
    assert m, out
    assert int(m.group(1)) <= container_uptime(c) / 60 + 1
    if host_uptime() > 180:
        assert int(m.group(1)) < host_uptime() / 60 - 1, out
    assert "load average:" in out


# ---------------------------------------------------------------------------------
# 2. a new procfs or sysfs gets the views


@pytest.mark.parametrize("how", ["mount", "unshare"])
def test_new_procfs_gets_the_views(containers, how):
    host_panic = Path("/proc/sys/kernel/panic").read_text()
    # Root of a "small VM": CAP_SYS_ADMIN in its own user namespace.
    c = containers.start(memory=LIMIT, extra_caps=["CAP_SYS_ADMIN"])
    c.exec("sysctl -w kernel.panic=7")
    if how == "mount":
        c.exec("mkdir -p /mnt/p && mount -t proc proc /mnt/p")
        assert meminfo_field(c.exec("cat /mnt/p/meminfo"), "MemTotal") == 262144
        assert c.exec("cat /mnt/p/sys/kernel/panic") == "7\n"
        mounts = mount_points(c)
        assert mounts["/mnt/p"] == "proc"
        for view in ("/mnt/p/meminfo", "/mnt/p/uptime", "/mnt/p/sys"):
            assert mounts[view] == "fuse.ecifs", mounts
        # The container mounted it: it may unmount it, views and all (issue 9, item 5).
        c.exec("umount -R /mnt/p")
        assert "/mnt/p" not in mount_points(c)
    else:
        # A new pid namespace with its own procfs, as container tools make them.
        out = c.exec("unshare -pf --mount-proc sh -c "
                     "'echo $$; cat /proc/1/comm /proc/meminfo /proc/sys/kernel/panic'")
        lines = out.splitlines()
        assert lines[0] == "1"          # the shell is pid 1 ...
        assert lines[1] == "sh"         # ... and the new procfs shows its namespace (the init is sleep)
        assert meminfo_field(out, "MemTotal") == 262144
        assert lines[-1] == "7"
    assert Path("/proc/sys/kernel/panic").read_text() == host_panic


def test_new_sysfs_gets_the_views(containers):
    c = containers.start(memory=LIMIT, cpus=1, extra_caps=["CAP_SYS_ADMIN"])
    assert c.exec("cat /sys/devices/system/cpu/online") == "0\n"
    # The container's /sys is read-only, so the kernel allows only a read-only sysfs.
    assert "permission denied" in fails(c, "mkdir -p /mnt/s && mount -t sysfs sysfs /mnt/s")
    c.exec("mount -t sysfs -o ro sysfs /mnt/s")
    assert c.exec("cat /mnt/s/devices/system/cpu/online") == "0\n"
    assert mount_points(c)["/mnt/s/kernel"] == "fuse.ecifs"


def test_mount_is_the_kernels_decision(containers):
    # Without CAP_SYS_ADMIN the kernel refuses, as it would without ecifs.
    c = containers.start(memory=LIMIT)
    assert "permission denied" in fails(c, "mkdir -p /mnt/p && mount -t proc proc /mnt/p")
    assert "/mnt/p" not in mount_points(c)
    # Mounts that carry no views are the kernel's alone.
    a = containers.start(memory=LIMIT, extra_caps=["CAP_SYS_ADMIN"])
    a.exec("mkdir -p /mnt/t && mount -t tmpfs -o size=1m t /mnt/t && echo hi > /mnt/t/f && umount /mnt/t")
    assert "/mnt/t" not in mount_points(a)
    # The new mount API, a way around mount(2), is not there (ENOSYS): programs fall back.
    out = a.exec("python3 -c 'import ctypes; l = ctypes.CDLL(None, use_errno=True); "
                 "print(l.syscall(430, b\"proc\", 0), ctypes.get_errno())'")
    assert out.split() == ["-1", "38"]


# ---------------------------------------------------------------------------------
# 3. the views cannot be unmounted, moved or copied without them


@pytest.mark.asan
def test_views_cannot_be_unmounted(containers):
    c = containers.start(memory=LIMIT, extra_caps=["CAP_SYS_ADMIN"])
    for target in ("/proc/meminfo", "/proc/sys", "/proc/uptime", "/sys/kernel", "/proc", "/sys"):
        assert "target is busy" in fails(c, f"umount {target}"), target
    assert "target is busy" in fails(c, "umount -l /proc")
    assert "Device or resource busy" in fails(c, "busybox umount /proc/meminfo")
    assert "target is busy" in fails(c, "cd /proc/sys && umount ../meminfo")
    # Moving a view away: refused, as the kernel refuses a locked mount. A bind of /proc
    # carries the views, recursive or not (issue 9, item 4: tests/integration/test_proc_mounts.py).
    fails(c, "mkdir -p /mnt/b /mnt/r /mnt/x && mount --move /proc/meminfo /mnt/x")
    c.exec("mount --bind /proc /mnt/b")
    c.exec("mount --rbind /proc /mnt/r")
    for copy in ("/mnt/b", "/mnt/r"):
        assert meminfo_field(c.exec(f"cat {copy}/meminfo"), "MemTotal") == 262144
    c.exec("mount --bind /proc/self /mnt/x")  # nothing of ours below it
    # Reading both still works.
    assert meminfo_field(c.exec("cat /proc/meminfo"), "MemTotal") == 262144
    assert c.exec("cat /proc/sys/kernel/panic").strip().isdigit()
    mounts = mount_points(c)
    assert mounts["/proc/meminfo"] == mounts["/proc/sys"] == "fuse.ecifs"


@pytest.fixture(scope="session")
def umount32_binary(work_dir) -> Path:
    """tests/integration/umount32_probe.c: the i386 ABI's umount(2) from a 64-bit program."""
    return build_static_probe(work_dir, HERE / "umount32_probe.c", "-no-pie")


def test_the_32_bit_umount_is_trapped_too(containers, umount32_binary):
    """i386's umount (syscall 22; x86_64 has only umount2) reaches the same rule as
    umount2: a view is busy, any other mount is the kernel's to unmount (issue 11, item 9)."""
    c = containers.start(memory=LIMIT, extra_caps=["CAP_SYS_ADMIN"])
    umount32 = install_probe(c, umount32_binary)
    for view in ("/proc/meminfo", "/proc/sys", "/proc", "/sys"):
        assert c.exec(f"{umount32} {view}").strip() == "16 Device or resource busy", view
    assert mount_points(c)["/proc/meminfo"] == "fuse.ecifs"
    assert meminfo_field(c.exec("cat /proc/meminfo"), "MemTotal") == 262144
    # Not a view: the kernel unmounts it, as it would under plain runc.
    c.exec("mkdir -p /mnt/t && mount -t tmpfs t /mnt/t")
    assert c.exec(f"{umount32} /mnt/t").strip() == "ok"
    assert "/mnt/t" not in mount_points(c)


# ---------------------------------------------------------------------------------
# 4. runc exec, and the notify fds released


def test_exec_processes_are_served_and_released(daemon, containers, probe_binary):
    before_container = fd_count(daemon.pid)
    init = "while [ ! -x /tmp/sysinfo_probe ]; do sleep 0.1; done; /tmp/sysinfo_probe > /tmp/init.out; " \
           "exec sleep infinity"
    c = containers.start(memory=LIMIT, args=["sh", "-c", init])
    install_probe(c, probe_binary)
    init_out = c.bundle / "rootfs" / "tmp" / "init.out"
    assert wait_for(lambda: init_out.exists() and "mem_unit" in init_out.read_text(), 10)
    assert parse_probe(init_out.read_text())["totalram"] == 268435456  # the init is served
    assert notify_fds(daemon, c) == 1
    baseline = fd_count(daemon.pid)

    for _ in range(5):
        assert run_probe(c)["totalram"] == 268435456
    # A longer exec holds its own notify fd while it runs.
    long = c.mgr.shim("exec", "-d", c.id, "sleep", "3", capture_output=False, stdout=subprocess.DEVNULL,
                      stderr=subprocess.DEVNULL)
    assert long.returncode == 0
    assert wait_for(lambda: notify_fds(daemon, c) == 2, 5)
    # When the exec'd processes are gone, their fds are released.
    assert wait_for(lambda: notify_fds(daemon, c) == 1, 10)
    assert wait_for(lambda: fd_count(daemon.pid) <= baseline, 10), (baseline, fds_of(daemon.pid))
    # And the container's own when it is deleted.
    containers.shim("delete", "-f", c.id)
    assert wait_for(lambda: fd_count(daemon.pid) <= before_container, 10)


# ---------------------------------------------------------------------------------
# 5. Docker's default seccomp profile


def test_dockers_default_profile_keeps_working(containers, probe_binary):
    c = start_with_profile(containers, [])
    install_probe(c, probe_binary)
    seccomp = json.loads((c.bundle / "config.json").read_text())["linux"]["seccomp"]
    assert seccomp["defaultAction"] == "SCMP_ACT_ERRNO"
    actions = {r["action"] for r in seccomp["syscalls"] if "sysinfo" in r.get("names", [])}
    assert actions == {"SCMP_ACT_NOTIFY"}
    # Served ...
    assert run_probe(c)["totalram"] == 268435456
    mem = next(line for line in c.exec("busybox free -b").splitlines() if line.startswith("Mem:"))
    assert int(mem.split()[1]) == 268435456
    # ... and the profile still applies: without CAP_SYS_ADMIN it forbids mount and
    # unshare (EPERM, its defaultErrnoRet), ecifs does not trap what it forbids.
    assert "permission denied" in fails(c, "mkdir -p /mnt/p && mount -t proc proc /mnt/p")
    assert "Operation not permitted" in fails(c, "unshare -m true")

    # With CAP_SYS_ADMIN Docker's profile allows mount: then it is trapped.
    a = start_with_profile(containers, ["CAP_SYS_ADMIN"])
    a.exec("mkdir -p /mnt/p && mount -t proc proc /mnt/p")
    assert meminfo_field(a.exec("cat /mnt/p/meminfo"), "MemTotal") == 262144
    assert "target is busy" in fails(a, "umount /proc/meminfo")


# ---------------------------------------------------------------------------------
# 6. bad input on the listener


def send(path: Path, data: bytes, fds: list[int] = (), hold: float = 0.0) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(str(path))
        try:
            if fds:
                socket.send_fds(s, [data], list(fds))
            elif data:
                s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the daemon dropped it midway
        time.sleep(hold)


def message(cid: str, names: list[str]) -> bytes:
    return json.dumps({"ociVersion": "1.0.2-dev", "fds": names, "pid": os.getpid(),
                       "state": {"ociVersion": "1.0.2-dev", "id": cid, "status": "running",
                                 "pid": os.getpid()}}).encode()


def handoff(probe_binary: Path, path: Path, cid: str) -> str:
    """A process that traps its own sysinfo and hands the listener to the daemon as a
    runtime would, naming container `cid`, then calls sysinfo."""
    return subprocess.run([str(probe_binary), "handoff", str(path), cid], capture_output=True, text=True,
                          timeout=30).stdout


@pytest.mark.asan
def test_bad_listener_input_is_dropped(daemon, containers, make_pseudo, probe_binary):
    path = seccomp_socket(daemon)
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    pseudo = make_pseudo()
    # The daemon keeps a container's cgroup files open once it has read them (the
    # handoff's sysinfo reads them): read them first, so the baseline counts them.
    pseudo.path("proc/meminfo").read_bytes()
    baseline = fds_of(daemon.pid)

    r1, w1 = os.pipe()
    r2, w2 = os.pipe()
    try:
        send(path, b"garbage{\"fds\":")                                # garbage JSON
        send(path, message(pseudo.id, ["seccompFd"]))                  # no fd
        send(path, message(pseudo.id, ["seccompFd"]), [r1, r2])        # two fds for one name
        send(path, message(pseudo.id, ["seccompFd", "other"]), [r1, r2])  # named, but a pipe
        send(path, b"")                                                # nothing (as crun may)
        send(path, b"{" + b" " * (2 << 20))                            # over the size limit
        send(path, b'{"fds":["seccompFd"],"state":{"id":"x"}', hold=0.2)  # incomplete, then gone
    finally:
        for fd in (r1, r2):
            os.close(fd)
    # The daemon closed every fd it was sent: the pipes' read ends are all gone.
    for w in (w1, w2):
        assert wait_for(lambda: _broken(w), 5)
        os.close(w)

    # Only root may hand fds over (the socket is root's, mode 0600).
    def connect_as_nobody():
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            try:
                s.connect(str(path))
            except PermissionError:
                return "refused"
            return "connected"
    assert run_as(65534, 65534, connect_as_nobody) == "refused"

    # A real listener for a container the daemon does not know is closed: the caller's
    # trapped call fails with ENOSYS, as without ecifs.
    assert handoff(probe_binary, path, "no-such-container").startswith("error=38")
    # One for a known container is served.
    out = handoff(probe_binary, path, pseudo.id)
    assert "error" not in out and "totalram=" in out, out

    # The daemon kept serving, and holds no fd more than before.
    assert daemon.running()
    assert wait_for(lambda: fd_count(daemon.pid) <= len(baseline), 10), (baseline, fds_of(daemon.pid))
    c = containers.start(memory=LIMIT)
    mem = next(line for line in c.exec("busybox free -b").splitlines() if line.startswith("Mem:"))
    assert int(mem.split()[1]) == 268435456
    log = daemon.log_path.read_text()
    for reason in ("not a JSON object", "names 1 fds but 0 came", "names 1 fds but 2 came",
                   "is no seccomp listener", "a message over", "unknown container no-such-container"):
        assert reason in log, reason


def _broken(write_fd: int) -> bool:
    try:
        os.write(write_fd, b"x")
    except BrokenPipeError:
        return True
    return False


# ---------------------------------------------------------------------------------
# without the daemon


def test_without_ecifs_trapped_calls_fail_with_enosys(daemon, containers, probe_binary):
    init = "while [ ! -e /tmp/go ]; do sleep 0.1; done; /tmp/sysinfo_probe > /tmp/after; exec sleep infinity"
    c = containers.start(memory=LIMIT, args=["sh", "-c", init])
    install_probe(c, probe_binary)
    # The full stop (a signal would leave the container to the next daemon, its
    # trapped calls waiting for it: docs/restart.md).
    assert daemon.ctl("stop-all").returncode == 0
    assert daemon.stop() == 0
    (c.bundle / "rootfs" / "tmp" / "go").write_text("")
    after = c.bundle / "rootfs" / "tmp" / "after"
    assert wait_for(lambda: after.exists() and after.read_text(), 10)
    assert after.read_text().startswith("error=38 ")
    # And runc cannot hand a new process's listener over: exec fails rather than run
    # a process whose trapped calls nobody answers.
    r = c.mgr.shim("exec", c.id, "true")
    assert r.returncode != 0 and "seccomp agent" in r.stderr, r.stderr
