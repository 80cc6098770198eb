"""Calls from threads other than the main one (issue 9, item 2). A FUSE request and a
seccomp notification both name the calling *thread*; a thread must get exactly what the
main thread gets, also after the main thread has called pthread_exit (the process's
leader is a zombie then, and /proc/PID/ns/ of the process is gone). Each case runs the
same bundle under plain runc too: where the values are not ecifs's, both agree."""
from __future__ import annotations

from pathlib import Path

import pytest

from conftest import MiB, Container, build_static_probe, install_probe, meminfo_field
from plain_runc import start_pair

HERE = Path(__file__).resolve().parent
PROBE_SOURCE = HERE / "thread_probe.c"
PROBE = "/tmp/thread_probe"  # where install_probe puts it inside a container
LIMIT = 256 * MiB
WHERE = ("main", "thread", "orphan")  # see thread_probe.c
NAMESPACED = ("/proc/sys/kernel/hostname", "/proc/sys/net/core/somaxconn")
EBUSY = "error=16 Device or resource busy\n"


@pytest.fixture(scope="session")
def thread_probe(work_dir) -> Path:
    """tests/integration/thread_probe.c."""
    return build_static_probe(work_dir, PROBE_SOURCE, "-pthread")


def probe(c: Container, where: str, *args: str) -> str:
    return c.exec(" ".join([PROBE, where, *args]))


def mount_points(c: Container) -> dict:
    """The container's mounts: mount point -> fstype."""
    out = {}
    for line in c.exec("cat /proc/self/mountinfo").splitlines():
        pre, _, post = line.partition(" - ")
        out[pre.split(" ")[4]] = post.split(" ")[0]
    return out


@pytest.mark.asan
def test_namespaced_sysctls_from_threads(containers, thread_probe):
    ecifs, plain = start_pair(containers, memory=LIMIT)
    install_probe(ecifs, thread_probe)
    for path in NAMESPACED:
        expected = probe(plain, "main", "read", path)
        assert expected.strip() and not expected.startswith("error="), expected
        # A thread is the first to ask (the executor for these namespaces is started for
        # it), the orphan first of all; then in namespaces of its own, made just for it.
        for where in ("orphan", "thread", "main"):
            assert probe(plain, where, "read", path) == expected, (path, where)
            assert probe(ecifs, where, "read", path) == expected, (path, where)
            fresh = f"unshare -run {PROBE} {where} read {path}"
            assert ecifs.exec(fresh) == plain.exec(fresh) == expected, (path, where)
    # Python threads, as Go's net package reads somaxconn from whichever thread runs.
    script = ("unshare -run python3 -c 'import threading; out = []; "
              "t = threading.Thread(target=lambda: out.append(open(\"/proc/sys/net/core/somaxconn\").read())); "
              "t.start(); t.join(); print(out[0], end=\"\")'")
    assert ecifs.exec(script) == plain.exec(script) == probe(plain, "main", "read", NAMESPACED[1])
    assert "no namespace executor" not in containers.daemon.log_path.read_text()


@pytest.mark.asan
def test_trapped_calls_from_threads(containers, thread_probe):
    ecifs, plain = start_pair(containers, memory=LIMIT, extra_caps=["CAP_SYS_ADMIN"])
    install_probe(ecifs, thread_probe)
    for where in WHERE:
        # sysinfo: the container's figures.
        values = dict(line.split("=", 1) for line in probe(ecifs, where, "sysinfo").splitlines())
        assert int(values["totalram"]) == LIMIT and values["mem_unit"] == "1", (where, values)
        # A new procfs: made, with the views on it, as under plain runc (without them).
        target = f"/mnt/p-{where}"
        ecifs.exec(f"mkdir -p {target}")
        assert probe(plain, where, "mount", "proc", target) == "ok\n", where
        assert probe(ecifs, where, "mount", "proc", target) == "ok\n", where
        assert mount_points(ecifs)[f"{target}/meminfo"] == "fuse.ecifs", where
        assert meminfo_field(ecifs.exec(f"cat {target}/meminfo"), "MemTotal") == LIMIT // 1024
        # A view stays busy.
        assert probe(ecifs, where, "umount", "/proc/meminfo") == EBUSY, where
        # A bind of /proc carries the views; what the thread mounted, it may unmount.
        bind = f"/mnt/b-{where}"
        ecifs.exec(f"mkdir -p {bind}")
        for c in (plain, ecifs):
            assert probe(c, where, "bind", "/proc", bind) == "ok\n", where
        assert mount_points(ecifs)[f"{bind}/meminfo"] == "fuse.ecifs", where
        for c in (plain, ecifs):
            assert probe(c, where, "umount", bind) == "ok\n", where
            assert probe(c, where, "umount", target) == "ok\n", where
        assert target not in mount_points(ecifs) and bind not in mount_points(ecifs), where
    assert containers.daemon.log_path.read_text().count("trapped call failed") == 0
