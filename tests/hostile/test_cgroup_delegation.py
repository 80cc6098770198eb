"""Issue 15: the container owns its cgroup's subtree (shim/cgroup_delegation.hpp), and
its root is the attacker. What it may do: make cgroups below its own, limit them, move
its processes into them. What it may not: lift a limit the runtime set, move a process
out of its subtree, write any cgroup of the host or of a neighbour. Its own cgroups stay
below its limits (a child with a higher memory limit is killed at the parent's), and
runc removes them with the container."""
from __future__ import annotations

from pathlib import Path

from conftest import MiB, assert_daemon_serves

MEMORY = 64 * MiB
# The v1 memory hierarchy inside (a cgroup namespace: its root is the container's cgroup).
MEM = "/sys/fs/cgroup/memory"


def with_cgroup_mount(cfg: dict) -> None:
    cfg["mounts"].append({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                          "options": ["ro", "nosuid", "noexec", "nodev"]})


def attempt(c, script: str) -> str:
    """The shell's own words on failure: rc and the last line of stderr."""
    r = c.mgr.shim("exec", c.id, "sh", "-c", script)
    return f"rc={r.returncode} {r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ''}"


def test_the_container_owns_its_subtree_below_the_runtimes_limits(daemon, containers):
    c = containers.start(memory=MEMORY, edit_config=with_cgroup_mount)
    neighbour = containers.start(memory=MEMORY, edit_config=with_cgroup_mount)
    host_limit = {p: (p / "memory.limit_in_bytes").read_text() for p in c.cgroup_dirs() if "/memory/" in str(p)}
    assert host_limit, f"no memory cgroup among {c.cgroup_dirs()}"

    # What a delegate may do.
    c.exec(f"mkdir {MEM}/child && echo {4 * MEMORY} > {MEM}/child/memory.limit_in_bytes && "
           f"echo $$ > {MEM}/child/cgroup.procs")
    # What it may not: its own limits, the cgroupns root's ancestors, a neighbour's cgroup.
    for script in (f"echo {4 * MEMORY} > {MEM}/memory.limit_in_bytes",
                   "echo max > /sys/fs/cgroup/pids/pids.max",
                   f"echo 1 > {MEM}/memory.oom_control"):
        assert "Permission denied" in attempt(c, script), script
    # A cgroup namespace: the hierarchy's root inside is the container's own cgroup.
    assert c.exec(f"cat {MEM}/memory.limit_in_bytes").strip() == str(MEMORY)
    assert neighbour.id not in c.exec(f"ls {MEM} {MEM}/..")

    # Its child cgroup with a higher limit is still held by the runtime's: a hog is killed at 64 MiB.
    hog = attempt(c, f"mkdir {MEM}/hog && echo {4 * MEMORY} > {MEM}/hog/memory.limit_in_bytes && "
                     f"echo $$ > {MEM}/hog/cgroup.procs && python3 -c 'b = bytearray({2 * MEMORY}); print(len(b))'")
    assert hog.startswith("rc=137") or "Killed" in hog or "MemoryError" in hog, hog
    assert {p: (p / "memory.limit_in_bytes").read_text() for p in host_limit} == host_limit

    # The neighbour's cgroups are untouched; the daemon serves both.
    assert not any((p / "child").exists() for p in neighbour.cgroup_dirs())
    assert_daemon_serves(daemon)
    assert int(neighbour.exec("grep ^MemTotal: /proc/meminfo").split()[1]) == MEMORY // 1024
    made = [p / "child" for p in c.cgroup_dirs() if (p / "child").is_dir()]
    assert made, "the container's child cgroup is not below its cgroup on the host"
    # Deleting the container removes what it made (containers' cleanup checks none is left).
    containers.shim("delete", "-f", c.id)
    assert not any(Path(p).exists() for p in made)
