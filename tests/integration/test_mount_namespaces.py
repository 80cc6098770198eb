"""The views reach a runtime that runs in a mount namespace of its own (issue 9, item 3).

Podman runs runc in a private mount namespace when a container has a user namespace;
the daemon mounts the views afterwards in its own namespace, and on a host whose `/`
is a private mount nothing propagates. Here a `sleep` holds such a namespace (made
with `unshare --mount --propagation private`) and ecifs-runc is run inside it with
nsenter, as conmon runs it inside Podman's.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from conftest import ECIFS_RUNC, MiB, new_name, proc_env, wait_for


def mounts_of(pid: int, base: Path) -> list[str]:
    """Mount points under `base` in the mount namespace of `pid`."""
    base_text = str(base).rstrip("/") + "/"
    found = []
    with open(f"/proc/{pid}/mountinfo") as f:
        for line in f:
            point = line.split(" ")[4]
            if point.startswith(base_text):
                found.append(point)
    return found


@pytest.fixture
def private_namespace():
    """A private mount namespace, held by a sleep; killed (by pid) at the end."""
    holder = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sleep", "600"],
                              stdin=subprocess.DEVNULL)
    # unshare execs sleep once the namespace is made: wait until the pid is in another one.
    own = os.readlink("/proc/self/ns/mnt")
    assert wait_for(lambda: os.readlink(f"/proc/{holder.pid}/ns/mnt") != own, 5), "unshare made no namespace"
    yield holder.pid
    holder.kill()
    holder.wait(10)


def shim_in(pid: int, containers, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    cmd = ["nsenter", f"--mount=/proc/{pid}/ns/mnt", "--", str(ECIFS_RUNC), "--root", str(containers.root), *args]
    return subprocess.run(cmd, capture_output=True, stdin=subprocess.DEVNULL, text=True, timeout=60,
                          env=env or containers.env())


def run_in(pid: int, containers, memory: int = 256 * MiB, **kw) -> str:
    cid = new_name("c")
    containers.ids.append(cid)
    bundle = containers.make_bundle(cid, memory=memory, cpus=1)
    with open(containers.dir / f"{cid}.out", "w") as out:
        cmd = ["nsenter", f"--mount=/proc/{pid}/ns/mnt", "--", str(ECIFS_RUNC), "--root", str(containers.root),
               "run", "-d", "-b", str(bundle), cid]
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, timeout=60,
                           env=containers.env())
    assert r.returncode == 0, containers._diag(f"ecifs-runc run {cid} in a private mount namespace",
                                               r.returncode, (containers.dir / f"{cid}.out").read_text())
    return cid


@pytest.mark.asan
def test_views_reach_a_runtime_in_a_private_mount_namespace(containers, daemon, private_namespace):
    cid = run_in(private_namespace, containers)
    r = containers.shim("exec", cid, "sh", "-c", "head -n 1 /proc/meminfo; cat /sys/devices/system/cpu/online")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "MemTotal:         262144 kB\n0\n", r.stdout
    # The shim attached the daemon's mount in that namespace; the daemon's own is untouched.
    mount_dir = daemon.containers_dir / cid
    assert str(mount_dir) in mounts_of(private_namespace, daemon.containers_dir)
    assert str(mount_dir) in mounts_of(os.getpid(), daemon.containers_dir)


@pytest.mark.asan
def test_delete_leaves_no_mount_in_the_runtimes_namespace(containers, daemon, private_namespace):
    """Podman deletes from its own (the host's) namespace: the copy attached in the
    runtime's namespace goes too, and the other containers keep their views."""
    other = containers.start(memory=128 * MiB)
    cid = run_in(private_namespace, containers)
    r = containers.shim("delete", "-f", cid)
    assert r.returncode == 0, r.stderr
    mount_dir = str(daemon.containers_dir / cid)
    assert wait_for(lambda: mount_dir not in mounts_of(private_namespace, daemon.containers_dir), 10), \
        mounts_of(private_namespace, daemon.containers_dir)
    assert mount_dir not in mounts_of(os.getpid(), daemon.containers_dir)
    assert other.exec("head -n 1 /proc/meminfo") == "MemTotal:         131072 kB\n"


def test_delete_inside_the_namespace(containers, daemon, private_namespace):
    cid = run_in(private_namespace, containers)
    r = shim_in(private_namespace, containers, "delete", "-f", cid)
    assert r.returncode == 0, r.stderr
    assert wait_for(lambda: not mounts_of(private_namespace, daemon.containers_dir), 10), \
        mounts_of(private_namespace, daemon.containers_dir)
    assert not mounts_of(os.getpid(), daemon.containers_dir)


def test_visible_views_are_not_attached_twice(containers, daemon):
    """In the daemon's own namespace the shim attaches nothing: one mount per container."""
    c = containers.start(memory=256 * MiB)
    points = mounts_of(os.getpid(), daemon.containers_dir)
    assert points.count(str(daemon.containers_dir / c.id)) == 1, points
