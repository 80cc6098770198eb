"""Nothing of ecifs takes a pid in a pid namespace of the container's: each case runs in
the same bundle under plain runc and through ecifs-runc, and the pids must agree.

 - a procfs mounted inside (`unshare -pf --mount-proc`, `mount -t proc` in a new pid
   namespace) is made by the trapper's mount helper for the caller's pid namespace
   without a process of the helper's in it (procfs's pidns= option, Linux 6.18; older
   kernels fork into it, see seccomp/mount_helper.cpp), so the namespace's pids go on
   as under runc;
 - the views runc refuses to bind under /proc are placed by a createRuntime hook, which
   runc runs in its own namespaces, not by a createContainer hook, which runc init would
   fork in the container's pid namespace.
"""
from __future__ import annotations

import copy
import ctypes
import json
import os
import subprocess
from pathlib import Path

import pytest

import ecifs_bundle
from conftest import MiB, new_name
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


def used_pids(pid: int) -> tuple[int, int]:
    """(pids the container's pid namespace has handed out, how many of them are the
    tasks of its init): the next pid there is found by forking into it, the tasks are
    runc init's threads (their pids in the container's namespace, NSpid's last)."""
    r = subprocess.run(["nsenter", "-t", str(pid), "-p", "--", "sh", "-c", "echo $$"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    next_pid = int(r.stdout)
    tids = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for line in (task / "status").read_text().splitlines():
            if line.startswith("NSpid:"):
                tids.append(int(line.split()[-1]))
    return next_pid - 1, len([t for t in tids if t < next_pid])


def test_no_hook_of_ecifs_runs_in_the_containers_pid_namespace(containers):
    # At `create`, runc init (pid 1) waits to exec the container's process: every pid of
    # the container's namespace so far is one of its threads, under runc and under
    # ecifs-runc alike (a createContainer hook would be one more).
    cid = new_name("c")
    plain_id = f"{cid}-runc"
    bundle = containers.make_bundle(cid, memory=LIMIT)
    config = ecifs_bundle.read_config(bundle)
    plain_config = copy.deepcopy(config)
    plain_config["linux"]["cgroupsPath"] = f"/{plain_id}"
    results = {}
    for name, cfg, plain in ((plain_id, plain_config, True), (cid, config, False)):
        ecifs_bundle.write_config(bundle, cfg)
        containers.ids.append(name)
        with open(containers.dir / f"{name}.out", "w") as out:
            cmd = ["create", "-b", str(bundle), name]
            if plain:
                r = subprocess.run(["runc", "--root", str(containers.root), *cmd], stdin=subprocess.DEVNULL,
                                   stdout=out, stderr=subprocess.STDOUT, timeout=60, env=containers.env())
            else:
                r = containers.shim(*cmd, capture_output=False, stdout=out, stderr=subprocess.STDOUT)
        assert r.returncode == 0, (containers.dir / f"{name}.out").read_text()
        state = json.loads(containers.runc("state", name).stdout)
        assert state["status"] == "created", state
        results["runc" if plain else "ecifs-runc"] = used_pids(state["pid"])
        if not plain:  # and the hook did place the views runc refuses
            mounts = {line.split(" ")[4]: line.split(" - ")[1].split(" ")[0]
                      for line in Path(f"/proc/{state['pid']}/mountinfo").read_text().splitlines()}
            assert mounts.get("/proc/sys") == "fuse.ecifs", mounts
    handed_out, threads = results["runc"]
    assert handed_out == threads, f"plain runc: {results}"
    assert results["ecifs-runc"][0] == results["ecifs-runc"][1], results
