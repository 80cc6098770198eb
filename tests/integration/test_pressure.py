"""PSI triggers on /proc/pressure/{cpu,memory,io} in real runc containers: a write
registers a trigger on the container cgroup's own pressure file, poll(2) reports its
events as POLLPRI, the handle's release ends it, and bad triggers get the kernel's errno
(compared with the host kernel's own /proc/pressure, written from a user namespace as a
container's root under plain runc would)."""
from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from conftest import wait_for

pytestmark = pytest.mark.skipif(not Path("/proc/pressure/cpu").exists(), reason="the host kernel has no PSI")

# Writes whose outcome the container must share with the kernel: NUL-terminated or not
# (psi_write reads at most 32 bytes and drops the last), unprivileged windows (whole
# multiples of 2 s), bounds, sscanf's blanks, wrapping and trailing text.
PROBE = r'''
import errno, json, os, select, sys
path = sys.argv[1]
WRITES = [b"some 150000 1000000", b"some 150000 1000000\0", b"some 150000 2000000\0",
          b"some 150000 2000000", b"some 150000 2000000\n", b"full 150000 2000000\0",
          b"some150000 2000000\0", b" some 1 2000000\0", b"SOME 1 2000000\0", b"some 0 2000000\0",
          b"some 2000001 2000000\0", b"some 1 0\0", b"some 1 10000000\0", b"some 1 10000001\0",
          b"some 1 12000000\0", b"some +1 2000000\0", b"some -1 2000000\0", b"some 1 2000000 junk\0",
          b"some 4294967297 2000000\0", b"some 1 4294967296\0", b"some\t1\n2000000\0", b"some 0x10 2000000\0",
          b"some 1 6000000\0", b"some 00000000000000000000000001 2000000\0",
          b"some 1 2000000" + b" " * 20 + b"\0", b"full 1 500000\0", b"junk", b"\0"]

def attempt(fd, data):
    try:
        os.write(fd, data)
        return "ok"
    except OSError as e:
        return errno.errorcode[e.errno]

def one(data):
    fd = os.open(path, os.O_RDWR)
    try:
        return attempt(fd, data)
    finally:
        os.close(fd)

def mask(fd):
    p = select.poll()
    p.register(fd, select.POLLIN | select.POLLPRI | select.POLLOUT)
    return p.poll(0)[0][1]

def sequence(*writes):
    fd = os.open(path, os.O_RDWR)
    try:
        return [attempt(fd, w) for w in writes]
    finally:
        os.close(fd)

out = {"writes": [[repr(w), one(w)] for w in WRITES]}
out["twice"] = sequence(b"some 1 2000000\0", b"some 1 2000000\0")
out["bad then good"] = sequence(b"some 1 1\0", b"some 1 2000000\0")
out["good then bad"] = sequence(b"some 1 2000000\0", b"junk\0")
fd = os.open(path, os.O_RDWR)
out["poll without a trigger"] = mask(fd)
os.write(fd, b"some 1000000 2000000\0")
out["poll with a quiet trigger"] = mask(fd)
os.close(fd)
ro = os.open(path, os.O_RDONLY)
out["write to a read-only descriptor"] = attempt(ro, b"some 1 2000000\0")
os.close(ro)
print(json.dumps(out))
'''

# Registers a trigger and counts its POLLPRI events for a while: "armed", then the count.
POLLER = r'''
import os, select, sys, time
resource, trigger, seconds = sys.argv[1], sys.argv[2].encode() + b"\0", float(sys.argv[3])
fd = os.open("/proc/pressure/" + resource, os.O_RDWR | os.O_NONBLOCK)
os.write(fd, trigger)
print("armed", flush=True)
p = select.poll()
p.register(fd, select.POLLPRI)
events, end = 0, time.monotonic() + seconds
while (left := end - time.monotonic()) > 0:
    for _, ev in p.poll(int(left * 1000)):
        if ev & select.POLLERR:
            print("POLLERR", flush=True)
            sys.exit(1)
        if ev & select.POLLPRI:
            events += 1
print(events, flush=True)
'''

BUSY_LOOP = "sh -c 'while :; do :; done' </dev/null >/dev/null 2>&1 &"


def put_script(c, name: str, text: str) -> str:
    """A script in the container's /tmp; returns its path inside."""
    path = c.bundle / "rootfs" / "tmp" / name
    path.write_text(text)
    path.chmod(0o644)
    return f"/tmp/{name}"


CAP_SYS_RESOURCE = 24


def has_sys_resource(pid: int | str) -> bool:
    status = Path(f"/proc/{pid}/status").read_text()
    return bool(int(re.search(r"^CapEff:\s*([0-9a-f]+)$", status, re.M).group(1), 16) >> CAP_SYS_RESOURCE & 1)


def kernel_answers(resource: str, privileged: bool) -> dict:
    """The probe against the host kernel's own file, as root of a new user namespace
    (which has every capability there, CAP_SYS_RESOURCE too, as a container's root
    under plain runc has those of its config): the kernel judges a short window by the
    writer's effective capabilities, whatever its namespace."""
    keep = [] if privileged else ["setpriv", "--bounding-set", "-sys_resource", "--inh-caps", "-sys_resource"]
    r = subprocess.run(["unshare", "-Ur", *keep, "python3", "-c", PROBE, f"/proc/pressure/{resource}"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.mark.parametrize("resource", ["cpu", "memory", "io"])
def test_trigger_writes_get_the_kernels_answers(containers, resource):
    c = containers.start()  # its root has no CAP_SYS_RESOURCE: windows in whole 2 s
    assert not has_sys_resource(c.pid)
    probe = put_script(c, "psi_probe.py", PROBE)
    inside = json.loads(c.exec(f"python3 {probe} /proc/pressure/{resource}"))
    assert inside == kernel_answers(resource, privileged=False)


def test_a_privileged_writer_may_use_short_windows(containers, daemon):
    # The trigger is registered by the daemon, so the kernel then judges the daemon's
    # capabilities: where it runs without CAP_SYS_RESOURCE (as on some sandboxed hosts)
    # no short window can be had for any container.
    if not has_sys_resource(daemon.pid):
        pytest.skip("the daemon has no CAP_SYS_RESOURCE here: the kernel refuses it short windows")
    c = containers.start(extra_caps=["CAP_SYS_RESOURCE"])
    probe = put_script(c, "psi_probe.py", PROBE)
    inside = json.loads(c.exec(f"python3 {probe} /proc/pressure/cpu"))
    assert inside == kernel_answers("cpu", privileged=True)


def unified_cgroup(c) -> Path:
    """The container's cgroup in the unified (v2) hierarchy, where its PSI files are."""
    dirs = [d for d in c.cgroup_dirs() if (d / "cgroup.threads").exists()]
    assert len(dirs) == 1, dirs
    return dirs[0]


def some_total(cgroup: Path, resource: str) -> int:
    line = (cgroup / f"{resource}.pressure").read_text().splitlines()[0]
    return int(line.rsplit("total=", 1)[1])


def start_poller(c, trigger: str, seconds: float) -> subprocess.Popen:
    poller = put_script(c, "psi_poller.py", POLLER)
    p = subprocess.Popen([str(c.mgr.bin_dir / "ecifs-runc"), "--root", str(c.mgr.root), "exec", c.id,
                          "python3", poller, "cpu", trigger, str(seconds)],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=c.mgr.env())
    line = p.stdout.readline()
    if line != "armed\n":
        p.kill()
        raise AssertionError(f"poller in {c.id}: {line!r} {p.communicate()}")
    return p


def finish(p: subprocess.Popen, timeout: float) -> int:
    try:
        out, err = p.communicate(timeout=timeout)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, (out, err)
    return int(out.split()[-1])


def test_trigger_fires_for_the_containers_own_pressure_only(containers):
    # Two busy loops on the one CPU of `busy`: each waits for the CPU half the time, far
    # above 100 ms in any 2 s. `quiet` beside it, its trigger the same, sees nothing.
    busy = containers.start(cpuset="0")
    quiet = containers.start(cpuset="0")
    trigger = "some 100000 2000000"
    pollers: list[subprocess.Popen] = []
    try:
        pollers.append(start_poller(busy, trigger, 12))
        pollers.append(start_poller(quiet, trigger, 12))
        before = some_total(unified_cgroup(busy), "cpu"), some_total(unified_cgroup(quiet), "cpu")
        busy.exec(BUSY_LOOP)
        busy.exec(BUSY_LOOP)
        busy_events, quiet_events = (finish(p, 60) for p in pollers)
    finally:
        for p in pollers:
            if p.poll() is None:
                p.kill()
                p.wait()
    after = some_total(unified_cgroup(busy), "cpu"), some_total(unified_cgroup(quiet), "cpu")
    # The host's own figures: the busy cgroup stalled for seconds, the quiet one hardly
    # (its poller's exit may wait behind the loops a little).
    assert after[0] - before[0] >= 2_000_000, (before, after)
    assert after[1] - before[1] < 500_000, (before, after)
    assert busy_events >= 1, (busy_events, before, after)
    assert quiet_events == 0, (quiet_events, before, after)


def daemon_fds_on(pid: int, file: Path) -> int:
    count = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            count += os.readlink(f"/proc/{pid}/fd/{fd}") == str(file)
        except OSError:
            pass
    return count


@pytest.mark.asan
def test_trigger_ends_with_the_handle(containers, daemon):
    c = containers.start(cpuset="0")
    pressure = unified_cgroup(c) / "cpu.pressure"
    c.exec("cat /proc/pressure/cpu >/dev/null")  # the daemon may keep the file open to read it
    kept = daemon_fds_on(daemon.pid, pressure)
    p = start_poller(c, "some 100000 2000000", 3)
    try:
        assert daemon_fds_on(daemon.pid, pressure) == kept + 1
        finish(p, 30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert wait_for(lambda: daemon_fds_on(daemon.pid, pressure) == kept, 5), daemon_fds_on(daemon.pid, pressure)


@pytest.mark.asan
def test_removing_a_container_ends_its_triggers(containers, daemon):
    # The container goes while a poll(2) waits on its trigger: the daemon closes the
    # trigger with the mount and keeps serving the others.
    c = containers.start(cpuset="0")
    other = containers.start()
    pressure = unified_cgroup(c) / "cpu.pressure"
    p = start_poller(c, "some 100000 2000000", 60)
    try:
        assert daemon_fds_on(daemon.pid, pressure) >= 1
        r = containers.shim("delete", "-f", c.id, timeout=30)
        assert r.returncode == 0, r.stderr
        p.wait(30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert wait_for(lambda: daemon_fds_on(daemon.pid, pressure) == 0, 5)
    assert other.exec("head -n 1 /proc/pressure/cpu").startswith("some avg10=")
    assert daemon.running()
