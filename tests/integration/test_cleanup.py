"""Nothing remains after a container's end or the daemon's (issue 2, "done means" 4):
no FUSE mount in /proc/self/mountinfo, no state directory, no registry entry, no cgroup."""
from __future__ import annotations

import json
import os
import signal
import time

import pytest

from conftest import MiB, fuse_mounts_under, pid_alive, wait_for

GONE_TIMEOUT = 10.0


def assert_gone_from_daemon(daemon, cid: str, timeout: float = GONE_TIMEOUT) -> None:
    mount = daemon.containers_dir / cid

    def gone():
        return (not fuse_mounts_under(mount) and not os.path.lexists(mount)
                and cid not in daemon.listing())

    assert wait_for(gone, timeout), (
        f"{cid} still there after {timeout}s: mounts={fuse_mounts_under(mount)} "
        f"dir={os.path.lexists(mount)} listed={cid in daemon.listing()}\n" + daemon.log_tail())


def test_killed_init_is_forgotten(daemon, containers):
    c = containers.start(memory=256 * MiB, cpus=1.5)
    assert c.id in daemon.listing()
    pid = c.pid
    os.kill(pid, signal.SIGKILL)
    assert wait_for(lambda: not pid_alive(pid), 10)
    # Without any delete: the daemon notices the end of init by itself.
    assert_gone_from_daemon(daemon, c.id)
    # runc's delete still works (the shim's hooks accept a container already forgotten)
    # and removes the cgroups.
    r = containers.shim("delete", c.id)
    assert r.returncode == 0, r.stdout + r.stderr
    assert c.id not in containers.runc_ids()
    assert wait_for(lambda: not c.cgroup_dirs(), 5), c.cgroup_dirs()


@pytest.mark.parametrize("force", [False, True], ids=["kill-then-delete", "delete-f"])
def test_delete_leaves_nothing(daemon, containers, force):
    c = containers.start(memory=256 * MiB, cpus=1.5)
    other = containers.start(memory=512 * MiB)
    assert c.cgroup_dirs()
    if force:
        r = containers.shim("delete", "-f", c.id)
    else:
        r = containers.shim("kill", c.id, "KILL")
        assert r.returncode == 0, r.stdout + r.stderr
        assert wait_for(lambda: c.state()["status"] == "stopped", 10), c.state()
        r = containers.shim("delete", c.id)
    assert r.returncode == 0, r.stdout + r.stderr
    assert c.id not in containers.runc_ids()
    assert_gone_from_daemon(daemon, c.id)
    assert wait_for(lambda: not c.cgroup_dirs(), 5), c.cgroup_dirs()
    # The other container is not affected.
    assert other.id in daemon.listing()
    assert other.exec("head -n 1 /proc/meminfo") == "MemTotal:         524288 kB\n"


@pytest.mark.asan
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_daemon_signal_leaves_the_containers_to_the_next_daemon(daemon, containers, sig):
    """A signal stops the daemon as an upgrade or a service restart does: the views stay
    mounted, their connections held by the fd holder (docs/restart.md), and the next
    daemon serves them."""
    c = containers.start(memory=256 * MiB, cpus=1.5)
    rc = daemon.stop(sig)
    assert rc == 0, daemon.log_tail()
    assert len(fuse_mounts_under(daemon.state_dir)) == 1
    assert daemon.holder_pid() is not None
    daemon.start()
    assert c.exec("head -n 1 /proc/meminfo") == "MemTotal:         262144 kB\n"
    assert c.id in daemon.listing()


@pytest.mark.asan
def test_stop_all_removes_everything(daemon, containers, make_pseudo):
    c1 = containers.start(memory=256 * MiB, cpus=1.5)
    c2 = containers.start(memory=512 * MiB, cpus=1.0, how="create")
    p = make_pseudo(100000, 100000)
    for cid in (c1.id, c2.id, p.id):
        assert (daemon.containers_dir / cid).is_dir()
    assert len(fuse_mounts_under(daemon.state_dir)) == 3
    holder = daemon.holder_pid()
    assert holder is not None

    started = time.monotonic()
    r = daemon.ctl("stop-all")
    assert r.returncode == 0, r.stdout + r.stderr
    assert sorted(json.loads(r.stdout)["removed"]) == sorted([c1.id, c2.id, p.id])
    assert wait_for(lambda: not daemon.running(), 10), daemon.log_tail()
    rc = daemon.stop()
    assert rc == 0, f"exit code {rc} after {time.monotonic() - started:.1f}s\n" + daemon.log_tail()
    assert not fuse_mounts_under(daemon.state_dir)
    assert not daemon.socket.exists()
    leftovers = os.listdir(daemon.containers_dir) if daemon.containers_dir.exists() else []
    assert leftovers == []
    assert not [p for p in (daemon.state_dir / "records").rglob("*") if not p.is_dir()]
    assert wait_for(lambda: not pid_alive(holder), 5)
    assert not (daemon.state_dir / "holder.sock").exists()

    # The containers can still be deleted through the shim with the daemon gone, and
    # leave no cgroup.
    for c in (c1, c2):
        r = containers.shim("delete", "-f", c.id)
        assert r.returncode == 0, r.stdout + r.stderr
        assert c.id not in containers.runc_ids()
        assert wait_for(lambda: not c.cgroup_dirs(), 5), c.cgroup_dirs()
