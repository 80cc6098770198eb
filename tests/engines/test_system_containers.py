"""System containers: systemd as PID 1 in an unprivileged, user-namespaced container,
without --privileged and without an added capability, through Docker (`--runtime ecifs`)
and through plain `ecifs-runc run`.

What makes it boot is the container's own cgroup (shim/cgroup_delegation.hpp): a cgroup
namespace, a writable cgroup mount and the delegation files of its cgroups owned by its
root, below the limits the runtime set. Each test boots Debian 12's systemd
(tests/engines/image.py, recipe SYSTEMD), waits for `systemctl is-system-running`, and
checks what a user of a system container does: services started and stopped, the
journal, the sysctls systemd-sysctl applies (the container's, never the host's), the
container's cgroups below its own limits. The `host_state` fixture fails the test if
the host changed or anything was left.

A unit that fails is allowed only if README.md's "System containers" lists it with the
reason (the table's first column): the test and the README cannot drift apart.
"""
from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

import image
from conftest import integration, new_name, require_programs, wait_for
from test_docker import dockerd  # noqa: F401  (the fixture)

sys.path.insert(0, str(integration.REPO / "tests" / "vm"))
import system_bundle  # noqa: E402  (the system container's config.json, shared with the v2 VM)

BOOT_TIMEOUT = 60
MEMORY = 512 << 20
# Container id 0 maps to this host id under plain ecifs-runc (ecifs_bundle's default).
HOST_ID = 100000
README = integration.REPO / "README.md"


def units_the_readme_explains() -> set[str]:
    """The unit names of README's table of units that fail in a system container."""
    text = README.read_text()
    start = text.index("## System containers")
    end = text.find("\n## ", start + 1)
    section = text[start:end if end > 0 else len(text)]
    return set(re.findall(r"^\| `([\w@.-]+\.(?:service|mount|socket|target|path|timer))` \|", section, re.M))


class System:
    """A booted system container, reached through `run(script)`: (rc, stdout, stderr)."""

    def __init__(self, run, host_cgroups: list[Path]):
        self.run = run
        self.host_cgroups = host_cgroups  # the container's cgroup in each hierarchy, as the host has it

    def sh(self, script: str, check: bool = True) -> str:
        rc, out, err = self.run(script)
        assert not check or rc == 0, f"{script!r}: rc={rc}\nstdout:\n{out}\nstderr:\n{err}"
        return out

    def wait_for_boot(self) -> tuple[str, float]:
        started = time.monotonic()
        state = ""
        while time.monotonic() - started < BOOT_TIMEOUT:
            state = self.sh("systemctl is-system-running || true").strip()
            if state in ("running", "degraded"):
                return state, time.monotonic() - started
            time.sleep(0.5)
        jobs = self.sh("systemctl list-jobs --no-pager || true")
        pytest.fail(f"systemd still '{state}' after {BOOT_TIMEOUT}s; its jobs:\n{jobs}", pytrace=False)

    def failed_units(self) -> set[str]:
        listing = self.sh("systemctl list-units --failed --plain --no-legend --no-pager")
        return {line.split()[0] for line in listing.splitlines() if line.strip()}


def check_system_container(system: System, host_sysctls_before: dict[str, str]) -> str:
    """Every check of a booted system container; returns its state for the caller's record."""
    state, took = system.wait_for_boot()
    print(f"systemd reached '{state}' in {took:.1f}s")
    failed = system.failed_units()
    unexplained = failed - units_the_readme_explains()
    assert not unexplained, (f"units failed that README.md's 'System containers' does not explain: {sorted(unexplained)}\n"
                             + system.sh(f"journalctl -b --no-pager -u {' -u '.join(sorted(unexplained))} | tail -n 40"))

    # Services start and stop: a D-Bus activated one of systemd's, and a transient one.
    system.sh("systemctl start systemd-hostnamed && systemctl is-active systemd-hostnamed")
    assert system.sh("hostnamectl --static").strip(), "hostnamectl answered nothing"
    system.sh("systemctl stop systemd-hostnamed")
    assert system.sh("systemctl is-active systemd-hostnamed", check=False).strip() == "inactive"
    system.sh("systemd-run --unit=ecifs-probe sleep 600 && systemctl is-active ecifs-probe")
    # systemd made the service's cgroup below the container's own, on the host too.
    service = [c / "system.slice/ecifs-probe.service" for c in system.host_cgroups]
    assert any(p.is_dir() for p in service), f"no ecifs-probe.service cgroup below {system.host_cgroups}"
    system.sh("systemctl stop ecifs-probe")
    assert system.sh("systemctl is-active ecifs-probe", check=False).strip() == "inactive"

    # The journal has the boot.
    journal = system.sh("journalctl -b --no-pager")
    assert "Journal started" in journal and "Reached target" in journal, journal[-3000:]

    # systemd-sysctl applied the image's sysctl.d: to the container's own sysctls.
    system.sh("systemctl is-active systemd-sysctl")
    for key, wanted in image_sysctls().items():
        assert system.sh(f"sysctl -n {key}").strip() == wanted, f"{key} is not sysctl.d's {wanted} in the container"
        assert read_host_sysctl(key) == host_sysctls_before[key], f"the host's {key} changed"

    # Its cgroups are its own below its limits: it cannot lift them.
    limit = "memory.max" if system.sh("test -e /sys/fs/cgroup/cgroup.controllers && echo v2 || true").strip() \
        else "memory/memory.limit_in_bytes"
    rc, _, err = system.run(f"echo 4294967296 > /sys/fs/cgroup/{limit}")
    assert rc != 0 and "Permission denied" in err, f"the container raised its own memory limit ({limit}): {err}"
    total_kib = int(system.sh("awk '/^MemTotal:/ {print $2}' /proc/meminfo"))
    assert total_kib == MEMORY // 1024, f"MemTotal {total_kib} kB, not the container's {MEMORY >> 20} MiB"
    return state


def tasks_compared(system: System) -> tuple[int, int]:
    """The container's tasks as /proc/loadavg counts them, and as ps does (threads of its
    pid namespace) in the same breath."""
    out = system.sh("ps -eL --no-headers | wc -l; cat /proc/loadavg").split()
    return int(out[4].split("/")[1]), int(out[0])


def check_after_a_daemon_restart(system: System, daemon) -> None:
    """The daemon killed and started again: the container's views are its whole cgroup's,
    not the cgroup its init is in now (systemd's init.scope, below the container's); its
    services still start (their mount namespaces go through the new daemon's trapper)."""
    daemon.kill()
    daemon.start()
    counted, listed = tasks_compared(system)
    assert abs(counted - listed) <= 3, f"/proc/loadavg counts {counted} tasks, ps lists {listed} threads"
    assert int(system.sh("grep ^MemTotal: /proc/meminfo").split()[1]) == MEMORY // 1024
    system.sh("systemctl restart systemd-hostnamed && systemctl is-active systemd-hostnamed")


@functools.cache
def image_sysctls() -> dict[str, str]:
    """What the image's /usr/lib/sysctl.d sets (Debian 12: kernel.pid_max, fs.protected_*)."""
    settings = {}
    with tarfile.open(image.rootfs_path(image.DEFAULT_CACHE, image.SYSTEMD)) as tar:
        for m in tar.getmembers():
            if re.fullmatch(r"(\./)?usr/lib/sysctl\.d/[^/]+\.conf", m.name) and m.isfile():
                for line in tar.extractfile(m).read().decode().splitlines():
                    if "=" in line and not line.lstrip().startswith(("#", ";")):
                        key, value = (part.strip() for part in line.split("=", 1))
                        settings[key] = value
    assert settings, "the image's /usr/lib/sysctl.d sets nothing: nothing to check systemd-sysctl with"
    return settings


def host_sysctls() -> dict[str, str]:
    return {key: read_host_sysctl(key) for key in image_sysctls()}


def read_host_sysctl(name: str) -> str:
    return Path("/proc/sys", *name.split(".")).read_text().strip()


# ---------------------------------------------------------------------------------
# through Docker


@pytest.fixture(scope="session")
def systemd_image() -> Path:
    try:
        return image.ensure_image(r=image.SYSTEMD)
    except RuntimeError as e:
        pytest.fail(f"cannot build the systemd image: {e}", pytrace=False)


def test_systemd_boots_in_docker_with_runtime_ecifs(daemon, host_state, systemd_image, dockerd):  # noqa: F811
    dockerd.cli("load", "-i", str(systemd_image), timeout=300)
    name = new_name("systemd")
    before = host_sysctls()
    # The command line README.md gives: no --privileged, no --cap-add, no cgroup flags.
    cid = dockerd.cli("run", "-d", "--name", name, "--runtime", "ecifs", "--network", "none",
                      "--memory", "512m", "--tmpfs", "/run", "--tmpfs", "/run/lock",
                      image.SYSTEMD.tag, "/sbin/init", timeout=300).stdout.strip()
    assert cid in daemon.listing(), "the container did not go through ecifs"
    inspect = dockerd.cli("inspect", "-f", "{{.HostConfig.Privileged}} {{.HostConfig.CapAdd}}", name)
    assert inspect.stdout.split() == ["false", "[]"]
    # cgroupfs driver: /<cgroup-parent>/<id> in every hierarchy.
    host_cgroups = [d / cid for d in integration.cgroup_dirs(dockerd.cgroup_parent) if (d / cid).is_dir()]

    def run(script: str):
        r = dockerd.cli("exec", name, "sh", "-c", script, check=False, timeout=60)
        return r.returncode, r.stdout, r.stderr

    system = System(run, host_cgroups)
    check_system_container(system, before)
    check_after_a_daemon_restart(system, daemon)
    dockerd.cli("rm", "-f", name, timeout=120)
    assert wait_for(lambda: cid not in daemon.listing(), 10), "ecifs still serves the removed container"


# ---------------------------------------------------------------------------------
# through plain ecifs-runc


def extract_rootfs(rootfs_tar: Path, rootfs: Path, host_id: int) -> None:
    """The image's root filesystem, owned as the container's user namespace maps it
    (container id N is host id host_id + N). Device nodes are left out: runc makes /dev."""
    rootfs.mkdir(mode=0o755)
    with tarfile.open(rootfs_tar) as tar:
        members = [m for m in tar.getmembers() if not (m.ischr() or m.isblk() or m.isfifo())]
        for m in members:
            m.uid += host_id
            m.gid += host_id
        tar.extractall(rootfs, members=members, numeric_owner=True)  # our own image: trusted
    os.chown(rootfs, host_id, host_id)


# With CAP_SYS_ADMIN systemd sandboxes its services (systemd-logind, systemd-hostnamed):
# their mount namespaces bind onto /proc/self/fd/N, which the trapper serves.
@pytest.mark.parametrize("extra_caps", [[], ["CAP_SYS_ADMIN"]], ids=["docker-caps", "cap-sys-admin"])
def test_systemd_boots_under_plain_ecifs_runc(daemon, host_state, systemd_image, work_dir, extra_caps):
    require_programs("runc")
    containers = integration.Containers(work_dir, daemon.socket, daemon)
    try:
        cid = new_name("systemd")
        bundle = containers.dir / cid
        bundle.mkdir(mode=0o755)
        extract_rootfs(image.rootfs_path(image.DEFAULT_CACHE, image.SYSTEMD), bundle / "rootfs", HOST_ID)
        integration.ecifs_bundle.write_config(bundle, system_bundle.system_config(MEMORY, f"/{cid}", extra_caps))
        before = host_sysctls()
        containers.ids.append(cid)
        with open(containers.dir / f"{cid}.out", "w") as out:  # not pipes: the container keeps them
            r = containers.shim("run", "-d", "-b", str(bundle), cid, capture_output=False, stdout=out,
                                stderr=subprocess.STDOUT)
        assert r.returncode == 0, (containers.dir / f"{cid}.out").read_text(errors="replace")

        def run(script: str):
            r = containers.runc("exec", cid, "sh", "-c", script)
            return r.returncode, r.stdout, r.stderr

        system = System(run, integration.Container(containers, cid, bundle).cgroup_dirs())
        check_system_container(system, before)
        check_after_a_daemon_restart(system, daemon)
    finally:
        problems = containers.cleanup()
    assert not problems, problems
