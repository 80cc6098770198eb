"""Real runc containers started through ecifs-runc see their own limits (issue 2,
"done means" 2 and 3)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import MiB, meminfo_field, mountinfo

VIEW_PATHS = ["/proc/meminfo", "/proc/uptime", "/sys/devices/system/cpu/online"]
MEMINFO_LINE = re.compile(r"^[A-Za-z0-9_()]+:\s+\d+( kB)?$")


def host_snapshot() -> dict:
    meminfo = Path("/proc/meminfo").read_text()
    return {
        "MemTotal": meminfo_field(meminfo, "MemTotal"),
        "keys": [line.split(":")[0] for line in meminfo.splitlines()],
        "online": Path("/sys/devices/system/cpu/online").read_text(),
    }


def assert_host_untouched(before: dict) -> None:
    after = host_snapshot()
    assert after == before
    # The views are mounted inside containers only, never over the host's files.
    host_mounts = {m["mountpoint"] for m in mountinfo()}
    assert not host_mounts & set(VIEW_PATHS), host_mounts & set(VIEW_PATHS)


def free_total(out: str) -> int:
    """The `total` column of procps `free -b`'s Mem: line."""
    for line in out.splitlines():
        if line.startswith("Mem:"):
            return int(line.split()[1])
    raise AssertionError(f"no Mem: line in free output:\n{out}")


def check_meminfo_format(text: str, host_keys: list[str]) -> None:
    assert text.endswith("\n"), repr(text[-50:])
    lines = text.splitlines()
    bad = [line for line in lines if not MEMINFO_LINE.match(line)]
    assert not bad, f"lines not in the kernel's format: {bad}"
    # Every line of the host's file is kept, in the host's order.
    assert [line.split(":")[0] for line in lines] == host_keys
    total = meminfo_field(text, "MemTotal")
    assert meminfo_field(text, "MemFree") <= total
    assert meminfo_field(text, "MemAvailable") <= total


@pytest.mark.asan
def test_userns_container_sees_its_limits(containers):
    before = host_snapshot()
    c = containers.start(memory=256 * MiB, cpus=1.5)

    # procps free reads /proc/meminfo.
    assert free_total(c.exec("free -b")) == 268435456

    assert c.exec("cat /sys/devices/system/cpu/online") == "0-1\n"

    uptime = c.exec("cat /proc/uptime")
    assert re.fullmatch(r"\d+\.\d\d \d+\.\d\d\n", uptime), repr(uptime)
    assert 0 <= float(uptime.split()[0]) < 30

    # busybox cat reads with sendfile; the line is in the kernel's format.
    meminfo = c.exec("busybox cat /proc/meminfo")
    assert "MemTotal:         262144 kB" in meminfo.splitlines(), meminfo
    check_meminfo_format(meminfo, before["keys"])

    # The views show as the kernel's (the host's root: nobody inside the user namespace),
    # with procfs' modes.
    st = c.exec("stat -c '%u %g %a' " + " ".join(VIEW_PATHS))
    assert st.splitlines() == ["65534 65534 444"] * 3, st

    # A non-root user inside the container can read them too.
    line = c.exec("setpriv --reuid=1000 --regid=1000 --clear-groups head -n 1 /proc/meminfo")
    assert line == "MemTotal:         262144 kB\n"

    assert_host_untouched(before)


def test_two_containers_each_see_their_own(containers):
    before = host_snapshot()
    a = containers.start(memory=256 * MiB, cpus=1.0)
    b = containers.start(memory=512 * MiB, cpus=2.0, how="create")
    for _ in range(2):  # interleaved, twice
        assert free_total(a.exec("free -b")) == 256 * MiB
        assert free_total(b.exec("free -b")) == 512 * MiB
        assert a.exec("cat /sys/devices/system/cpu/online") == "0\n"
        assert b.exec("cat /sys/devices/system/cpu/online") == "0-1\n"
        assert meminfo_field(a.exec("busybox cat /proc/meminfo"), "MemTotal") == 262144
        assert meminfo_field(b.exec("busybox cat /proc/meminfo"), "MemTotal") == 524288
    assert_host_untouched(before)


def test_container_without_user_namespace(containers):
    before = host_snapshot()
    c = containers.start(memory=300 * MiB, cpus=0.5, userns=False)
    assert free_total(c.exec("free -b")) == 300 * MiB
    assert c.exec("cat /sys/devices/system/cpu/online") == "0\n"
    assert 0 <= float(c.exec("cat /proc/uptime").split()[0]) < 30
    assert c.exec("stat -c '%u %g %a' " + " ".join(VIEW_PATHS)).splitlines() == ["0 0 444"] * 3
    assert_host_untouched(before)


def test_without_a_user_namespace_proc_sys_is_read_only_as_under_runc(containers):
    """Issue 11, item 7: a container without a user namespace has the host's root as
    its root; ecifs acts on nothing for it there. Its /proc/sys is read-only, as runc
    makes it; its views still show the container's figures."""
    host = {f: Path("/proc/sys", f).read_text() for f in ("kernel/panic", "net/core/somaxconn", "kernel/hostname")}
    ours = containers.start(memory=300 * MiB, userns=False)
    plain = containers.start_plain(memory=300 * MiB, userns=False)
    script = ("for f in kernel/panic net/core/somaxconn kernel/hostname kernel/ns_last_pid; do "
              "echo 7 > /proc/sys/$f; echo \"$f: $?\"; done 2>&1")
    assert ours.exec(script) == plain.exec(script)
    assert "Read-only file system" in ours.exec(script)
    assert free_total(ours.exec("free -b")) == 300 * MiB
    assert {f: Path("/proc/sys", f).read_text() for f in host} == host


def test_container_without_limits_sees_host_values(containers):
    before = host_snapshot()
    c = containers.start()
    meminfo = c.exec("cat /proc/meminfo")
    # No limit on the container's own cgroup: MemTotal is at most the host's (an
    # ancestor cgroup of the machine may be tighter).
    assert 0 < meminfo_field(meminfo, "MemTotal") <= before["MemTotal"]
    check_meminfo_format(meminfo, before["keys"])
    assert 0 <= float(c.exec("cat /proc/uptime").split()[0]) < 30
    assert_host_untouched(before)


def test_container_is_registered_while_running(daemon, containers):
    c = containers.start(memory=256 * MiB)
    assert c.id in daemon.listing()
    inspected = daemon.ctl_json("inspect", c.id)
    assert c.id in str(inspected)
    mount = daemon.containers_dir / c.id
    assert mount.is_dir()
    assert str(mount) in {m["mountpoint"] for m in mountinfo() if m["fstype"].startswith("fuse")}
