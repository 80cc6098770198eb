"""The Debian package (scripts/package.sh) as a user meets it: installed with apt on this
machine, `ecifs` started with no flags (the host's default places), a container run
through the installed ecifs-runc, the package purged, and nothing of it left: no file,
directory, process, mount or unit.

$ECIFS_DEB names the package. The test refuses to run where ecifs is installed or
serving already: it would replace the host's own."""
from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
from pathlib import Path

import pytest

from conftest import integration

MiB = integration.MiB
INSTALLED = ["/usr/bin/ecifs", "/usr/bin/ecifs-runc", "/usr/bin/ecifsctl", "/lib/systemd/system/ecifs.service",
             "/usr/share/man/man8/ecifs.8.gz", "/usr/share/man/man8/ecifs-runc.8.gz",
             "/usr/share/man/man8/ecifsctl.8.gz", "/usr/share/doc/ecifs/README.md",
             "/usr/share/doc/ecifs/examples/docker/daemon.json"]
PLACES = ["/var/lib/ecifs", "/run/ecifs"]  # the daemon's defaults
SOCKET = Path("/run/ecifs/ecifs.sock")


def deb() -> Path:
    path = os.environ.get("ECIFS_DEB")
    if not path or not Path(path).is_file():
        pytest.fail(f"ECIFS_DEB={path!r}: build the package with scripts/package.sh", pytrace=False)
    return Path(path).resolve()


def dpkg_status() -> str:
    r = subprocess.run(["dpkg-query", "-W", "-f=${db:Status-Abbrev}", "ecifs"], capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else ""


def apt(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["apt-get", "-y", "-o", "DPkg::Lock::Timeout=600", *args], capture_output=True, text=True,
                          timeout=600, env=integration.proc_env(DEBIAN_FRONTEND="noninteractive"))


def peer_pid(path: Path, kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_UNIX, kind) as s:
        s.connect(str(path))
        return struct.unpack("3i", s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))[0]


@pytest.fixture(scope="module")
def installed():
    """The package installed with apt; purged at the end whatever happened."""
    package = deb()
    present = [p for p in INSTALLED + PLACES if os.path.exists(p)]
    if dpkg_status() not in ("", "un", "pn") or present:
        pytest.fail(f"ecifs is already on this host ({dpkg_status() or present}): not replacing it", pytrace=False)
    r = apt("install", "--no-install-recommends", str(package))
    try:
        assert r.returncode == 0, r.stdout + r.stderr
        yield package
    finally:
        if os.path.exists("/usr/bin/ecifs") and SOCKET.exists():
            subprocess.run(["/usr/bin/ecifs", "--stop-all"], capture_output=True, timeout=60)
        apt("purge", "ecifs")


def test_the_package_declares_what_it_needs(installed):
    fields = subprocess.run(["dpkg-deb", "--field", str(installed), "Depends"], capture_output=True, text=True,
                            check=True).stdout
    for dep in ("libfuse3-3", "libseccomp2", "libspdlog", "runc"):
        assert dep in fields, fields
    assert dpkg_status() == "ii"
    for path in INSTALLED:
        assert os.path.isfile(path), path
    man = subprocess.run(["man", "-w", "8", "ecifs-runc"], capture_output=True, text=True)
    assert man.stdout.strip() == "/usr/share/man/man8/ecifs-runc.8.gz", man.stdout + man.stderr


def test_installed_ecifs_runs_a_container_and_a_purge_leaves_nothing(installed, work_dir):
    # `ecifs` with no flags: detached, state in /var/lib/ecifs, socket in /run/ecifs.
    r = subprocess.run(["/usr/bin/ecifs"], capture_output=True, text=True, timeout=60, env=integration.proc_env())
    assert r.returncode == 0, r.stderr
    stats = subprocess.run(["/usr/bin/ecifsctl", "stats"], capture_output=True, text=True, timeout=30)
    assert stats.returncode == 0, stats.stderr
    daemon_pid = json.loads(stats.stdout)["daemon"]["pid"]
    holder_pid = peer_pid(Path("/var/lib/ecifs/holder.sock"), socket.SOCK_SEQPACKET)
    mgr = integration.Containers(work_dir, SOCKET, bin_dir=Path("/usr/bin"))
    try:
        c = mgr.start(memory=96 * MiB)
        meminfo = c.exec("cat /proc/meminfo; busybox free -m")
        assert integration.meminfo_field(meminfo, "MemTotal") == 96 * 1024, meminfo
        listing = subprocess.run(["/usr/bin/ecifsctl", "list"], capture_output=True, text=True, timeout=30)
        assert c.id in listing.stdout, listing.stdout + listing.stderr
    finally:
        assert not mgr.cleanup()
    r = apt("purge", "ecifs")
    assert r.returncode == 0, r.stdout + r.stderr
    assert dpkg_status() in ("", "un", "pn")
    left = [p for p in INSTALLED + PLACES if os.path.exists(p)]
    assert not left, left
    # The removal stopped the daemon and its fd holder (prerm: ecifs --stop-all).
    assert integration.wait_for(lambda: not integration.pid_alive(daemon_pid), 10)
    assert integration.wait_for(lambda: not integration.pid_alive(holder_pid), 10)
    assert not integration.mounts_under("/var/lib/ecifs")
    assert not [p for p in Path("/etc/systemd/system").rglob("ecifs*")]
