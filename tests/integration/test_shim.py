"""ecifs-runc as a drop-in for runc: errors without a daemon, passthrough, bundles."""
from __future__ import annotations

import json
import os
import subprocess

import pytest

from conftest import Containers, MiB, cgroup_dirs, new_name, wait_for


@pytest.fixture
def no_daemon(binaries, work_dir):
    """Containers whose ECIFS_SOCKET names a socket nobody listens on."""
    mgr = Containers(work_dir, work_dir / "nobody-here" / "ecifs.sock")
    yield mgr
    problems = mgr.cleanup()
    assert not problems, "; ".join(problems)


@pytest.mark.parametrize("how", ["run", "create"])
def test_without_daemon_no_container_starts(no_daemon, how):
    cid = new_name("c")
    no_daemon.ids.append(cid)
    bundle = no_daemon.make_bundle(cid, memory=256 * MiB)
    args = ["run", "-d"] if how == "run" else ["create"]
    r = no_daemon.shim(*args, "-b", str(bundle), cid, stdin=subprocess.DEVNULL, timeout=30)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert "not running" in (r.stdout + r.stderr).lower(), r.stdout + r.stderr
    assert cid not in no_daemon.runc_ids()
    assert not cgroup_dirs(cid)


def test_without_daemon_other_commands_pass_through(no_daemon):
    r = no_daemon.shim("list")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
    r = no_daemon.shim("list", "--format", "json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) in ([], None)
    r = no_daemon.shim("state", "no-such-container")
    assert r.returncode != 0
    assert "no-such-container" in r.stderr or "not exist" in r.stderr
    r = no_daemon.shim("--version")
    assert r.returncode == 0, r.stderr
    assert "runc version" in r.stdout


def test_bundle_from_current_directory(containers):
    cid = new_name("c")
    containers.ids.append(cid)
    bundle = containers.make_bundle(cid, memory=256 * MiB, cpus=1.5)
    with open(containers.dir / f"{cid}.out", "w") as out:
        r = containers.shim("run", "-d", cid, cwd=str(bundle), capture_output=False,
                            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    assert r.returncode == 0, (containers.dir / f"{cid}.out").read_text()
    r = containers.shim("exec", cid, "head", "-n", "1", "/proc/meminfo")
    assert r.stdout == "MemTotal:         262144 kB\n", r.stdout + r.stderr


def test_bundle_reused_after_delete(containers):
    """A second run of the same bundle adds the views once, not twice."""
    c = containers.start(memory=256 * MiB, cpus=1.5)
    r = containers.shim("delete", "-f", c.id)
    assert r.returncode == 0, r.stderr
    cid = new_name("c")
    containers.ids.append(cid)
    with open(containers.dir / f"{cid}.out", "w") as out:
        r = containers.shim("run", "-d", "--bundle", str(c.bundle), cid, capture_output=False,
                            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    assert r.returncode == 0, (containers.dir / f"{cid}.out").read_text()
    config = json.loads((c.bundle / "config.json").read_text())
    dests = [m["destination"] for m in config.get("mounts", [])]
    dupes = {d for d in dests if dests.count(d) > 1}
    assert not dupes, dests
    r = containers.shim("exec", cid, "cat", "/proc/meminfo", "/sys/devices/system/cpu/online")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("MemTotal:         262144 kB\n")
    assert r.stdout.endswith("\n0-1\n")


def test_custom_runtime_from_env(containers, work_dir):
    log = containers.dir / "runtime.log"
    wrapper = containers.dir / "my-runtime"
    wrapper.write_text(f'#!/bin/sh\necho "$@" >> {log}\nexec runc "$@"\n')
    os.chmod(wrapper, 0o755)
    env = containers.env()
    env["ECIFS_RUNTIME"] = str(wrapper)
    cid = new_name("c")
    containers.ids.append(cid)
    bundle = containers.make_bundle(cid, memory=256 * MiB)
    with open(containers.dir / f"{cid}.out", "w") as out:
        r = subprocess.run([str(containers.bin_dir / "ecifs-runc"), "--root", str(containers.root),
                            "run", "-d", "-b", str(bundle), cid], env=env, timeout=60,
                           stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    assert r.returncode == 0, (containers.dir / f"{cid}.out").read_text()
    assert wait_for(lambda: log.exists() and cid in log.read_text(), 5)
    assert f"--root {containers.root}" in log.read_text()
