"""Nothing of ecifs takes a pid in a pid namespace of the container's: each case runs in
the same bundle under plain runc and through ecifs-runc, and the pids must agree.

 - a procfs mounted inside (`unshare -pf --mount-proc`, `mount -t proc` in a new pid
   namespace) is made by the trapper's mount helper for the caller's pid namespace
   without a process of the helper's in it (procfs's pidns= option, Linux 6.18; older
   kernels fork into it, see emulation/mount_helper.cpp), so the namespace's pids go on
   as under runc.
"""
from __future__ import annotations

import ctypes
import os

import pytest

from conftest import MiB
from plain_runc import run_both, start_pair

LIMIT = 256 * MiB


def kernel_has_procfs_pidns() -> bool:
    """Whether this kernel's procfs takes pidns= (Linux 6.18): only there can a helper
    make a pid namespace's procfs without a process in it."""
    libc = ctypes.CDLL(None, use_errno=True)
    SYS_fsopen, SYS_fsconfig, FSCONFIG_SET_FD = 430, 431, 5
    fs = libc.syscall(SYS_fsopen, b"proc", 0)
    if fs < 0:
        return False
    ns = os.open("/proc/self/ns/pid", os.O_RDONLY)
    try:
        return libc.syscall(SYS_fsconfig, fs, FSCONFIG_SET_FD, b"pidns", None, ns) == 0
    finally:
        os.close(ns)
        os.close(fs)


needs_pidns = pytest.mark.skipif(not kernel_has_procfs_pidns(),
                                 reason="procfs has no pidns= before Linux 6.18: the helper forks into the namespace")


@pytest.fixture
def pair(containers):
    """(ecifs, plain): one bundle with CAP_SYS_ADMIN in its user namespace, under both."""
    return start_pair(containers, memory=LIMIT, extra_caps=["CAP_SYS_ADMIN"])


def same_everywhere(pair, script: str) -> str:
    mine, theirs = run_both(*pair, script)
    assert mine == theirs, f"{script!r}:\n  ecifs-runc: {mine}\n  plain runc: {theirs}"
    assert mine[0] == 0, mine
    return mine[1]


@needs_pidns
@pytest.mark.parametrize("script, out", [
    # The shell is 1, its first child 2 (the helper's child used to take 2).
    ("unshare -pf --mount-proc sh -c 'echo $$; sleep 1 & echo $!; ls -d /proc/[0-9]*'", "1 2 /proc/1 /proc/2"),
    # A procfs mounted from inside a new pid namespace (mount is 2), then one more process.
    ("mkdir -p /mnt/q && unshare -pf sh -c 'mount -t proc proc /mnt/q; sleep 1 & echo $!; ls -d /mnt/q/[0-9]*'",
     "3 /mnt/q/1 /mnt/q/3"),
    # Nested twice.
    ("unshare -pf --mount-proc sh -c \"unshare -pf --mount-proc sh -c 'sleep 1 & echo \\$!; ls -d /proc/[0-9]*'\"",
     "2 /proc/1 /proc/2"),
])
def test_a_new_pid_namespace_numbers_as_under_runc(pair, script, out):
    assert " ".join(same_everywhere(pair, script).split()) == out


@needs_pidns
@pytest.mark.parametrize("pidns, out", [("/proc/self/ns/pid", "rc=0 sh"), ("/proc/1/ns/pid", "rc=32")])
def test_pidns_named_by_the_caller(pair, pidns, out):
    # Its own (a path as it resolves for the caller: /proc/self), or an ancestor's, which
    # the kernel refuses (EINVAL): the helper's child mounts it from inside the caller's
    # pid namespace, as the kernel checks both against the mounter's (the one case left
    # where it takes a pid there).
    script = (f"mkdir -p /mnt/q && unshare -pf sh -c 'mount -t proc -o pidns={pidns} proc /mnt/q 2>/dev/null; "
              "echo rc=$?; cat /mnt/q/1/comm 2>/dev/null; true'")
    assert " ".join(same_everywhere(pair, script).split()) == out


def test_a_pid_namespace_the_caller_may_not_mount_for(pair):
    # Root of a user namespace of its own, still in the container's pid namespace: no
    # CAP_SYS_ADMIN over that pid namespace's owner, so no procfs (EPERM, as the
    # kernel's get_tree and pidns= both refuse).
    out = same_everywhere(pair, "mkdir -p /mnt/q; unshare -U -r -m sh -c 'mount -t proc proc /mnt/q; echo rc=$?' 2>&1")
    assert "rc=32" in out, out
