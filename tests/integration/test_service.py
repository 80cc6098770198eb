"""ecifs as a service: the systemd unit (packaging/ecifs.service) and what the daemon
does for a service manager and for log tools, with and without systemd.

There is no systemd running as PID 1 on the development machines, so the unit is
checked with `systemd-analyze verify`, and its command line is run here by hand under
the protocol systemd speaks: $NOTIFY_SOCKET (sd_notify, Type=notify) and
$JOURNAL_STREAM (stderr connected to the journal). The mode for hosts without systemd
is the detached daemon with its log file, reopened on SIGHUP for logrotate."""
from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import ECIFS, REPO, Daemon, proc_env, quit_fd_holder, unmount_all_under, wait_for

UNIT = REPO / "packaging" / "ecifs.service"


def unit_setting(key: str) -> str:
    values = [line.split("=", 1)[1] for line in UNIT.read_text().splitlines() if line.startswith(key + "=")]
    assert len(values) == 1, f"{key} set {len(values)} times in {UNIT}"
    return values[0]


def unit_command(d: Daemon) -> list[str]:
    """The unit's ExecStart, with the build's binary and the test daemon's directories."""
    argv = shlex.split(unit_setting("ExecStart"))
    assert argv[0] == "/usr/bin/ecifs", argv
    subst = {"/usr/bin/ecifs": str(ECIFS), "/var/lib/ecifs": str(d.state_dir), "/run/ecifs/ecifs.sock": str(d.socket)}
    return [subst.get(a, a) for a in argv]


def daemon_pid(d: Daemon) -> int:
    """The daemon's pid, as it says (the socket's peer credentials name the process that
    bound it, which a detached daemon is not)."""
    return d.ctl_json("stats")["daemon"]["pid"]


def serving(d: Daemon) -> bool:
    return d.socket.exists() and d.ctl("list").returncode == 0


def stop_daemon_at(d: Daemon, pid: int) -> None:
    """The full stop of a daemon we did not start as a child, then its holder and mounts."""
    if d.socket.exists():
        d.ctl("stop-all", timeout=30)
    wait_for(lambda: not os.path.exists(f"/proc/{pid}"), 10)
    if os.path.exists(f"/proc/{pid}"):
        os.kill(pid, signal.SIGKILL)
    quit_fd_holder(d.state_dir / "holder.sock")
    unmount_all_under(d.dir)


@pytest.fixture
def notify_socket(work_dir):
    """A datagram socket playing systemd's notification socket."""
    path = work_dir / f"notify-{os.getpid()}-{time.monotonic_ns()}.sock"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(str(path))
    s.settimeout(15)
    yield s, path
    s.close()
    path.unlink(missing_ok=True)


def test_the_unit_passes_systemd_analyze_verify(binaries, work_dir):
    if not shutil.which("systemd-analyze"):
        pytest.fail("systemd-analyze missing: scripts/setup.sh installs systemd")
    # verify checks that ExecStart's binary exists and that `man` finds each page of
    # Documentation=: the build's binary, and the repo's pages where man looks.
    unit = work_dir / "ecifs.service"
    unit.write_text(UNIT.read_text().replace("/usr/bin/ecifs", str(ECIFS)))
    manpath = work_dir / "man"
    (manpath / "man8").mkdir(parents=True, exist_ok=True)
    for page in (REPO / "man").glob("*.8"):
        shutil.copy(page, manpath / "man8" / page.name)
    r = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60,
                       env=proc_env(MANPATH=str(manpath)), cwd=work_dir)
    assert r.returncode == 0 and not r.stderr.strip(), f"rc={r.returncode}\n{r.stdout}{r.stderr}"


def test_the_unit_keeps_the_fd_holder_and_the_hosts_mounts():
    # KillMode=process: a stop signals the daemon only, and its fd holder keeps the
    # containers for the next one (docs/restart.md). And no setting may give the service
    # a mount namespace of its own: runc must see the views the daemon mounts.
    assert unit_setting("KillMode") == "process"
    assert unit_setting("Type") == "notify"
    keys = {line.split("=", 1)[0] for line in UNIT.read_text().splitlines() if "=" in line and not line.startswith("#")}
    own_namespace = {"ProtectSystem", "ProtectHome", "PrivateTmp", "PrivateDevices", "ReadWritePaths",
                     "ReadOnlyPaths", "InaccessiblePaths", "TemporaryFileSystem", "BindPaths", "PrivateMounts",
                     "ProtectKernelTunables", "ProtectKernelModules", "ProtectControlGroups", "MountFlags",
                     "ProtectClock", "DevicePolicy", "RootDirectory"}
    assert not keys & own_namespace


@contextlib.contextmanager
def running_unit(d: Daemon, notify_socket: str):
    """The unit's command, as systemd would start it: with $NOTIFY_SOCKET. Killed at the
    end if it still runs, and its fd holder told to quit."""
    with open(d.log_path, "ab") as log:
        proc = subprocess.Popen(unit_command(d), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                env=proc_env(NOTIFY_SOCKET=notify_socket), start_new_session=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        quit_fd_holder(d.state_dir / "holder.sock")


def test_the_units_command_tells_systemd_when_it_serves_and_when_it_stops(make_daemon, notify_socket):
    sock, path = notify_socket
    d = make_daemon(start=False)
    with running_unit(d, str(path)) as proc:
        assert sock.recv(4096) == b"READY=1", d.log_tail()
        # Ready means serving: the first request after READY=1 is answered.
        assert d.ctl("list").returncode == 0
        assert daemon_pid(d) == proc.pid  # NotifyAccess=main: the main process tells
        proc.send_signal(signal.SIGTERM)
        assert sock.recv(4096) == b"STOPPING=1"
        assert proc.wait(15) == 0


def test_an_abstract_notify_socket_is_told_too(make_daemon):
    # systemd may name a socket in the abstract namespace ("@name").
    name = f"ecifs-notify-{os.getpid()}-{time.monotonic_ns()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(15)
        d = make_daemon(start=False)
        with running_unit(d, "@" + name) as proc:
            assert sock.recv(4096) == b"READY=1", d.log_tail()
            assert d.ctl("stop-all").returncode == 0
            assert sock.recv(4096) == b"STOPPING=1"
            assert proc.wait(15) == 0


def test_without_notify_socket_nothing_is_sent(make_daemon):
    d = make_daemon()  # no $NOTIFY_SOCKET: sd_notify is a no-op, the daemon serves as always
    assert serving(d)


def journal_lines(make_daemon, journal: bool) -> list[str]:
    d = make_daemon(start=False)
    with open(d.log_path, "ab") as log:
        st = os.fstat(log.fileno())
        # systemd sets JOURNAL_STREAM to stderr's device:inode; one that names another
        # file (stderr redirected by the operator) must be ignored.
        stream = f"{st.st_dev}:{st.st_ino}" if journal else f"{st.st_dev}:{st.st_ino + 1}"
        proc = subprocess.Popen([str(ECIFS), "--foreground", "--state-dir", str(d.state_dir), "--socket", str(d.socket),
                                 "--log-level", "info"], stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, env=proc_env(JOURNAL_STREAM=stream), start_new_session=True)
    try:
        assert wait_for(lambda: serving(d), 10), d.log_tail()
        assert d.ctl("stop-all").returncode == 0
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    return d.log_path.read_text().splitlines()


def test_under_the_journal_lines_carry_their_priority_and_no_timestamp(make_daemon):
    lines = journal_lines(make_daemon, journal=True)
    serving_line = [l for l in lines if "ecifs serving on" in l]
    assert serving_line and serving_line[0].startswith("<6>ecifs serving on"), lines
    assert all(re.match(r"<[0-7]>", l) for l in lines), lines


def test_stderr_that_is_not_the_journal_keeps_timestamps(make_daemon):
    lines = journal_lines(make_daemon, journal=False)
    assert lines and all(re.match(r"\[\d{4}-\d\d-\d\d [\d:.]+\] \[ecifs\] \[\w+\] ", l) for l in lines), lines


def test_a_detached_daemon_logs_to_its_file_and_opens_it_again_on_sighup(make_daemon):
    # The mode for hosts without systemd: `ecifs` detaches (the shell gets its prompt back
    # once it serves) and logs to a file; logrotate moves the file and sends SIGHUP.
    d = make_daemon(start=False)
    log_file = d.dir / "detached.log"
    r = subprocess.run([str(ECIFS), "--state-dir", str(d.state_dir), "--socket", str(d.socket),
                        "--log-file", str(log_file), "--log-level", "info"],
                       capture_output=True, text=True, timeout=30, env=proc_env())
    assert r.returncode == 0, r.stderr
    assert serving(d)  # serving when the command returns
    pid = daemon_pid(d)
    try:
        assert os.getsid(pid) == pid  # a session of its own, no terminal
        assert "ecifs serving on" in log_file.read_text()
        rotated = d.dir / "detached.log.1"
        log_file.rename(rotated)
        os.kill(pid, signal.SIGHUP)
        assert wait_for(log_file.exists, 10), "SIGHUP did not open the log file again"
        assert wait_for(lambda: "log file opened again" in log_file.read_text(), 10)
        assert serving(d)  # SIGHUP does not stop it
        d.ctl("list")
        assert "SIGHUP" not in rotated.read_text()
    finally:
        stop_daemon_at(d, pid)
    assert "stop-all" in log_file.read_text()


def test_sighup_in_the_foreground_changes_nothing(daemon):
    os.kill(daemon.pid, signal.SIGHUP)
    assert wait_for(lambda: "SIGHUP: nothing to do" in daemon.log_path.read_text(), 10), daemon.log_tail()
    assert daemon.running() and serving(daemon)
