"""The control socket and ecifsctl: bad input gets a clear error and the daemon keeps
serving (issue 2, "done means" 5)."""
from __future__ import annotations

import json
import os
import re
import socket
import stat
import subprocess

import pytest

from conftest import (ECIFS, ECIFSCTL, REPO, exchange, proc_env, request, run_as)


def assert_error(reply: dict, *words: str) -> None:
    assert reply.get("ok") is False, reply
    assert isinstance(reply.get("error"), str) and reply["error"], reply
    for w in words:
        assert w.lower() in reply["error"].lower(), reply


def assert_serving(daemon) -> None:
    assert daemon.running(), daemon.log_tail()
    assert daemon.request({"op": "list"}).get("ok") is True


@pytest.mark.asan
def test_list_and_inspect_empty(daemon):
    reply = daemon.request({"op": "list"})
    assert reply["ok"] is True
    assert reply.get("containers") == []
    # ecifsctl prints the reply (without "ok": its exit code says that).
    r = daemon.ctl("list")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["containers"] == []


@pytest.mark.asan
def test_malformed_json(daemon):
    reply = json.loads(exchange(daemon.socket, b'{"op": "list", oops\n'))
    assert_error(reply)
    assert_serving(daemon)


@pytest.mark.parametrize("line", [
    b"\n",
    b"[]\n",
    b'"list"\n',
    b"42\n",
    b"null\n",
    b'{"id": "x"}\n',
    b'{"op": 7}\n',
    b'{"op": "start", "id": "x", "pid": "one"}\n',
    b'{"op": "start", "id": "x", "pid": -1}\n',
    b'{"op": "prepare", "id": 5}\n',
    b'{"op": "prepare", "id": "x", "root_uid": "root"}\n',
    b'\xff\xfe{"op": "list"}\n',
], ids=lambda b: b.decode(errors="replace").strip() or "empty")
def test_invalid_requests(daemon, line):
    raw = exchange(daemon.socket, line)
    assert raw.endswith(b"\n"), raw
    assert_error(json.loads(raw))
    assert_serving(daemon)


@pytest.mark.asan
def test_unknown_op(daemon):
    assert_error(daemon.request({"op": "frobnicate", "id": "x"}))
    assert_serving(daemon)


@pytest.mark.asan
@pytest.mark.parametrize("op", ["start", "remove", "inspect"])
def test_unknown_container_id(daemon, op):
    req = {"op": op, "id": "no-such-container"}
    if op == "start":
        req["pid"] = os.getpid()
    assert_error(daemon.request(req))
    args = [op, "no-such-container"] + ([str(os.getpid())] if op == "start" else [])
    r = daemon.ctl(*args)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert r.stderr.startswith("ecifsctl: "), r.stderr
    assert_serving(daemon)


@pytest.mark.parametrize("cid", ["", ".", "..", "../escape", "a/b", "/abs", "x\ny", "x\0y"])
def test_bad_container_ids_are_refused(daemon, cid):
    reply = daemon.request({"op": "prepare", "id": cid, "root_uid": 0, "root_gid": 0})
    assert_error(reply)
    # Nothing created outside (or inside) the containers directory.
    assert not (daemon.state_dir / "escape").exists()
    assert not (daemon.dir / "escape").exists()
    cdir = daemon.containers_dir
    assert not cdir.exists() or os.listdir(cdir) == []
    assert_serving(daemon)


def test_prepare_twice_is_refused_or_idempotent(daemon, make_pseudo):
    p = make_pseudo()
    reply = daemon.request({"op": "prepare", "id": p.id, "root_uid": 0, "root_gid": 0})
    if reply.get("ok"):
        assert reply["mount"] == p.prepared["mount"]
    else:
        assert_error(reply)
    assert_serving(daemon)
    assert (p.mount / "proc" / "meminfo").read_text().startswith("MemTotal:")


def test_start_with_dead_pid(daemon):
    cid = "dead-pid-test"
    assert daemon.request({"op": "prepare", "id": cid, "root_uid": 0, "root_gid": 0})["ok"]
    proc = subprocess.Popen(["true"])
    proc.wait()
    assert_error(daemon.request({"op": "start", "id": cid, "pid": proc.pid}))
    assert daemon.request({"op": "remove", "id": cid})["ok"] is True
    assert_serving(daemon)


@pytest.mark.asan
def test_oversized_line(daemon):
    data = b'{"op":"list","pad":"' + b"x" * (70 * 1024)  # no newline, over 64 KiB
    raw = exchange(daemon.socket, data, timeout=10)
    if raw:  # an error reply before the connection is closed
        assert_error(json.loads(raw))
    assert_serving(daemon)


def test_oversized_line_then_more_data(daemon):
    """The connection is closed after an oversized line: later bytes on it are not
    taken as a new request."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(str(daemon.socket))
        try:
            s.sendall(b"y" * (70 * 1024) + b"\n" + b'{"op":"list"}\n')
        except (BrokenPipeError, ConnectionResetError):
            pass
        got = b""
        try:
            while chunk := s.recv(65536):
                got += chunk
        except ConnectionResetError:
            pass
        except TimeoutError:
            pytest.fail(f"connection still open 10s after an oversized line; got {got!r}")
    replies = [json.loads(line) for line in got.splitlines() if line.strip()]
    assert len(replies) <= 1, replies
    for reply in replies:
        assert_error(reply)
    assert_serving(daemon)


def test_many_requests_on_one_connection(daemon):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(str(daemon.socket))
        s.sendall(b'{"op":"list"}\n' * 3)
        buf = b""
        while buf.count(b"\n") < 3:
            chunk = s.recv(65536)
            assert chunk, buf
            buf += chunk
    assert [json.loads(line)["ok"] for line in buf.splitlines()] == [True, True, True]


def test_idle_and_half_open_connections_do_not_block_others(daemon):
    idle = [socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(5)]
    try:
        for i, s in enumerate(idle):
            s.connect(str(daemon.socket))
            s.sendall(b'{"op":"li')  # an unfinished request
            if i % 2:
                s.shutdown(socket.SHUT_WR)
        for _ in range(3):
            assert_serving(daemon)
    finally:
        for s in idle:
            s.close()
    assert_serving(daemon)


@pytest.mark.asan
def test_non_root_peer_is_refused(daemon):
    mode = stat.S_IMODE(os.stat(daemon.socket).st_mode)
    assert mode == 0o666, oct(mode)

    def ask():
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(str(daemon.socket))
            s.sendall(b'{"op":"list"}\n')
            buf = b""
            while b"\n" not in buf:
                chunk = s.recv(4096)
                if not chunk:
                    break
                buf += chunk
            return buf.decode()

    raw = run_as(65534, 65534, ask)
    assert_error(json.loads(raw), "permission denied")

    def prepare():
        return request(daemon.socket, {"op": "prepare", "id": "evil", "root_uid": 0, "root_gid": 0})

    assert_error(run_as(65534, 65534, prepare), "permission denied")
    assert not (daemon.containers_dir / "evil").exists()
    assert_serving(daemon)


def test_ecifsctl_without_daemon(work_dir, binaries):
    sock = work_dir / "no-daemon.sock"
    r = subprocess.run([str(ECIFSCTL), "--socket", str(sock), "list"], capture_output=True,
                       text=True, timeout=10, env=proc_env())
    assert r.returncode == 1
    assert r.stderr.startswith("ecifsctl: "), r.stderr
    assert "not running" in r.stderr


def test_ecifsctl_via_env_socket(daemon):
    r = subprocess.run([str(ECIFSCTL), "list"], capture_output=True, text=True, timeout=10,
                       env=proc_env(ECIFS_SOCKET=str(daemon.socket)))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["containers"] == []


def project_version() -> str:
    m = re.search(r"project\(ecifs\s+VERSION\s+([0-9.]+)", (REPO / "CMakeLists.txt").read_text())
    assert m
    return m.group(1)


@pytest.mark.parametrize("binary", ["ecifs", "ecifsctl"])
def test_help(binaries, binary):
    r = subprocess.run([str(binaries / binary), "--help"], capture_output=True, text=True,
                       timeout=10)
    assert r.returncode == 0, r.stderr
    assert "--socket" in r.stdout


def test_daemon_version(binaries):
    r = subprocess.run([str(ECIFS), "--version"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    assert project_version() in r.stdout


def test_daemon_help_lists_flags(binaries):
    r = subprocess.run([str(ECIFS), "--help"], capture_output=True, text=True, timeout=10)
    for flag in ("--foreground", "--state-dir", "--socket", "--threads", "--log-level"):
        assert flag in r.stdout, flag


def test_daemon_rejects_bad_flags(binaries, work_dir):
    for args in (["--no-such-flag"], ["--threads", "zero"], ["--log-level", "loud"]):
        r = subprocess.run([str(ECIFS), "--foreground", "--state-dir", str(work_dir / "x"),
                            "--socket", str(work_dir / "x.sock"), *args],
                           capture_output=True, text=True, timeout=10)
        assert r.returncode != 0, args
    assert not (work_dir / "x.sock").exists()
