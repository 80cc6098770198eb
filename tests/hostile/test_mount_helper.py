"""Issue 11, items 1 and 8: the mount helper, which acts in a container's namespaces for
its trapped mount calls, gives the container's root nothing of the host's, and a mount
made for a caller that never heard of it (signalled out of its call, its credentials
changed meanwhile) does not stay.

Both attacks race the helper, so each is a loop with a count (figures printed): the
helpers' children the thief saw, and what it could do to them (nothing); the mounts
made, refused and found while the caller's uid flips."""
from __future__ import annotations

from conftest import MiB, assert_daemon_serves, build_probe, install

ROUNDS = 200


def host_pseudo_mounts() -> list[str]:
    """The host's proc and sysfs mounts (other tests' FUSE mounts come and go)."""
    out = []
    for line in open("/proc/self/mountinfo"):
        fstype = line.partition(" - ")[2].split(" ")[0]
        if fstype in ("proc", "sysfs"):
            out.append(line.split(" ")[4])
    return sorted(out)


def figures(out: str) -> dict:
    return {k: int(v) for k, v in (f.split("=") for f in out.split())}


def start(containers):
    return containers.start(memory=256 * MiB, extra_caps=["CAP_SYS_ADMIN", "CAP_SYS_PTRACE"])


def test_the_helpers_child_cannot_be_ptraced_or_robbed(daemon, containers, work_dir):
    host_before = host_pseudo_mounts()
    try:
        thief = start(containers)
        neighbour = start(containers)
        probe = install(thief, build_probe(work_dir, "mount_helper_probe"))
        got = figures(thief.exec(f"{probe} steal /tmp/mh {ROUNDS}", timeout=600).strip())
        print(f"{ROUNDS} mounts x 4 threads: {got}")
        # The attacks work where the kernel allows them (a child of the probe's own) ...
        assert got["control"] > 0, got
        assert got["mounts_ok"] == 4 * ROUNDS, got
        # ... and the thief saw helpers' children, and could do nothing to them.
        assert got["helpers_seen"] > 0, "no helper seen: the attack proved nothing"
        assert got["ptrace_ok"] == 0 and got["getfd_ok"] == 0 and got["procfs_ok"] == 0, got
        assert got["nobody_owned"] > 0, "a helper's /proc entry is the container's: it is dumpable"
        assert host_pseudo_mounts() == host_before
        assert "proc" in neighbour.exec("head -1 /proc/meminfo && echo proc")
        assert_daemon_serves(daemon)
    finally:
        problems = containers.cleanup()
        assert not problems, "; ".join(problems)


def test_a_mount_the_caller_never_heard_of_does_not_stay(daemon, containers, work_dir):
    host_before = host_pseudo_mounts()
    try:
        racer = start(containers)
        probe = install(racer, build_probe(work_dir, "mount_helper_probe"))
        got = figures(racer.exec(f"{probe} race /tmp/mr {ROUNDS}", timeout=600).strip())
        print(f"{ROUNDS} mounts while the uid flips: {got}")
        assert got["flips"] > 0, got
        assert got["other"] == 0, got
        # Every procfs there is one the caller saw made, with its root's rights.
        assert got["found"] == got["ok"], got
        assert got["ok"] + got["refused"] == ROUNDS, got
        assert racer.exec("grep -c ' /tmp/mr ' /proc/self/mountinfo || true").strip() == "0"
        assert host_pseudo_mounts() == host_before
        assert_daemon_serves(daemon)
    finally:
        problems = containers.cleanup()
        assert not problems, "; ".join(problems)
