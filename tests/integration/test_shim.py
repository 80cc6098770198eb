"""ecifs-runc as a drop-in for runc: errors without a daemon, passthrough, bundles."""
from __future__ import annotations

import json
import os
import subprocess

import pytest

from conftest import Containers, MiB, cgroup_dirs, new_name, proc_env, wait_for


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


# ---------------------------------------------------------------------------------
# Finding the daemon without ECIFS_SOCKET (Docker and Podman do not pass their
# environment to the runtime): --ecifs-socket, taken out before runc sees the line.


def env_without_socket() -> dict:
    env = proc_env()
    env.pop("ECIFS_SOCKET", None)
    return env


def shim_with(containers, *args: str, env: dict, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(containers.bin_dir / "ecifs-runc"), *args], env=env, timeout=60,
                          capture_output=True, stdin=subprocess.DEVNULL, text=True, **kw)


def test_socket_from_flag_without_environment(containers, daemon):
    cid = new_name("c")
    containers.ids.append(cid)
    bundle = containers.make_bundle(cid, memory=256 * MiB)
    flag = f"--ecifs-socket={daemon.socket}"
    with open(containers.dir / f"{cid}.out", "w") as out:
        r = subprocess.run([str(containers.bin_dir / "ecifs-runc"), flag, "--root", str(containers.root),
                            "run", "-d", "-b", str(bundle), cid], env=env_without_socket(), timeout=60,
                           stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    assert r.returncode == 0, (containers.dir / f"{cid}.out").read_text()
    assert cid in daemon.listing()
    # Every command takes it, and runc never sees it (it would refuse an unknown flag).
    r = shim_with(containers, flag, "--root", str(containers.root), "exec", cid, "head", "-n", "1",
                  "/proc/meminfo", env=env_without_socket())
    assert r.stdout == "MemTotal:         262144 kB\n", r.stdout + r.stderr
    r = shim_with(containers, "--root", str(containers.root), flag, "delete", "-f", cid, env=env_without_socket())
    assert r.returncode == 0, r.stderr
    assert wait_for(lambda: cid not in daemon.listing(), 10)


def test_socket_flag_wins_over_environment(containers, daemon):
    cid = new_name("c")
    containers.ids.append(cid)
    bundle = containers.make_bundle(cid)
    env = proc_env(ECIFS_SOCKET="/nonexistent/ecifs.sock")
    # The detached container keeps runc's stdio: a file, not a pipe to wait on.
    with open(containers.dir / f"{cid}.out", "w") as out:
        r = subprocess.run([str(containers.bin_dir / "ecifs-runc"), f"--ecifs-socket={daemon.socket}", "--root",
                            str(containers.root), "run", "-d", "-b", str(bundle), cid], env=env, timeout=60,
                           stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    assert r.returncode == 0, (containers.dir / f"{cid}.out").read_text()
    assert cid in daemon.listing()


@pytest.mark.parametrize("given", ["flag", "env", "default"])
def test_missing_daemon_says_where_the_socket_came_from(no_daemon, given):
    cid = new_name("c")
    no_daemon.ids.append(cid)
    bundle = no_daemon.make_bundle(cid)
    env, args = env_without_socket(), []
    missing = str(no_daemon.socket)
    if given == "flag":
        args = [f"--ecifs-socket={missing}"]
    elif given == "env":
        env["ECIFS_SOCKET"] = missing
    else:
        missing = "/run/ecifs/ecifs.sock"
        if os.path.exists(missing):
            pytest.fail(f"{missing} exists: an ecifs daemon of the host runs; this test needs it absent")
    r = shim_with(no_daemon, *args, "--root", str(no_daemon.root), "run", "-d", "-b", str(bundle), cid, env=env)
    assert r.returncode == 1, r.stdout + r.stderr
    expected = {"flag": "--ecifs-socket", "env": "$ECIFS_SOCKET", "default": "the default"}[given]
    assert f"nothing listens on {missing}" in r.stderr, r.stderr
    assert f"the socket is {expected}" in r.stderr, r.stderr
    assert "--runtime-flag ecifs-socket=PATH" in r.stderr, r.stderr
    assert cid not in no_daemon.runc_ids()


def test_unknown_ecifs_flag_is_refused(no_daemon):
    r = shim_with(no_daemon, "--ecifs-sokcet=/x", "--root", str(no_daemon.root), "list", env=env_without_socket())
    assert r.returncode == 1
    assert "unknown ecifs-runc flag: --ecifs-sokcet=/x" in r.stderr, r.stderr
    r = shim_with(no_daemon, "--root", str(no_daemon.root), "list", "--ecifs-socket", env=env_without_socket())
    assert r.returncode != 0  # after the command it is runc's to refuse, as any flag there


def test_help_lists_ecifs_flags_then_runcs(no_daemon):
    r = shim_with(no_daemon, "--help", env=env_without_socket())
    assert r.returncode == 0, r.stderr
    ours, _, theirs = r.stdout.partition("The runtime's help follows.")
    assert "--ecifs-socket=PATH" in ours and "--ecifs-runtime=NAME" in ours, r.stdout
    assert "runc" in theirs and "USAGE" in theirs.upper(), r.stdout
    r = shim_with(no_daemon, "--version", env=env_without_socket())
    assert r.stdout.startswith("runc version"), r.stdout  # untouched
