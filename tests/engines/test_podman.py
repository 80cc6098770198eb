"""Podman (rootful) with ecifs as a runtime of containers.conf (`--runtime ecifs`, the recipe in
packaging/examples/podman), without and with a user namespace.

With --uidmap Podman runs the runtime in a private mount namespace of its own, which
the daemon's mount never reaches on a host whose `/` is a private mount (issue 9,
item 3). Podman does not pass its environment to the runtime: the daemon's socket is
given with --runtime-flag."""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

import image
from conftest import (ECIFS_RUNC, EXAMPLES, INSTALLED_RUNC, Engine, integration, check_views, new_name,
                      panic_to_write, require_programs, stop_and_clean, views_script, wait_for)

# Podman's default rlimits are the host's, which runc refuses here: give them.
ULIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096"]
USERNS = ["--uidmap", "0:100000:65536", "--gidmap", "0:100000:65536"]


class Podman(Engine):
    """Podman has no daemon: every command gets the same private paths."""

    name = "podman"
    # Its cache of image blob facts, which no option of Podman 4.3 moves, and runc's
    # default root, which it makes even when the runtime is given another.
    default_paths = ["/var/lib/containers/cache/blob-info-cache-v1.boltdb", "/var/lib/containers/cache",
                     "/var/lib/containers", "/run/runc"]

    def __init__(self, work, ecifs_socket):
        super().__init__(work)
        self.ecifs_socket = ecifs_socket
        # Podman refuses a runroot path longer than 50 characters.
        self.runroot = Path(tempfile.mkdtemp(prefix="ecifs-podman-", dir="/tmp"))
        conf = self.dir / "containers.conf"
        # Locks in files of ours, not in the host's /dev/shm/libpod_lock.
        # The recipe's [engine.runtimes] table, with the build's binary (`--runtime ecifs`).
        recipe = (EXAMPLES / "podman" / "containers.conf").read_text()
        assert f'ecifs = ["{INSTALLED_RUNC}"]' in recipe
        conf.write_text('[engine]\nlock_type = "file"\n'
                        f'static_dir = "{self.dir / "static"}"\n'
                        + recipe.replace(INSTALLED_RUNC, str(ECIFS_RUNC)))
        (self.dir / "tmp").mkdir()
        self.env = dict(os.environ, CONTAINERS_CONF=str(conf), TMPDIR=str(self.dir / "tmp"),
                        CONTAINERS_STORAGE_CONF=str(self.dir / "storage.conf"),
                        CONTAINERS_REGISTRIES_CONF=str(self.dir / "registries.conf"))
        (self.dir / "storage.conf").write_text(
            f'[storage]\ndriver = "vfs"\ngraphroot = "{self.dir / "root"}"\nrunroot = "{self.runroot}"\n')
        (self.dir / "registries.conf").write_text("unqualified-search-registries = []\n")

    def cli(self, *args: str, **kw):
        cmd = ["podman", "--root", str(self.dir / "root"), "--runroot", str(self.runroot),
               "--tmpdir", str(self.dir / "tmp"), "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs",
               "--events-backend", "file", "--network-config-dir", str(self.dir / "networks"),
               "--volumepath", str(self.dir / "volumes"),
               "--runtime", "ecifs", "--runtime-flag", f"ecifs-socket={self.ecifs_socket}",
               "--runtime-flag", f"root={self.dir / 'runc'}", *args]
        return self.run(cmd, env=self.env, **kw)


def remove(podman: Podman, name: str) -> None:
    """`podman rm -f`, repeated once only for Podman 4.3's --uidmap race (docs/engines.md,
    "What still differs"): when conmon's `podman container cleanup` cleans up first, it
    does so in conmon's private mount namespace, the host's mount of the container's
    `userdata/shm` stays, and rm fails "unlinkat .../userdata/shm: device or resource
    busy" (unmounting it on the way); a second rm removes the container. Measured in a
    loop of 40: 3 and 5 with ecifs-runc, 0 with plain runc. Said on stderr; any other
    failure fails the test."""
    r = podman.cli("rm", "-f", "-t", "0", name, check=False)
    if r.returncode != 0 and "userdata/shm: device or resource busy" in r.stderr:
        print(f"podman rm failed as in Podman's --uidmap race, repeated: {r.stderr.strip()}", file=sys.stderr)
        r = podman.cli("rm", "-f", "-t", "0", name, check=False)
    assert r.returncode == 0, f"podman rm: exit {r.returncode}\n{r.stderr}\n--- podman log ---\n{podman.log_tail()}"


@pytest.fixture
def podman(work_dir, daemon):
    require_programs("podman", "conmon", "runc")
    engine = Podman(work_dir, daemon.socket)
    try:
        yield engine
    finally:
        engine.cli("rm", "-a", "-f", "-t", "0", check=False)
        stop_and_clean(engine)
        integration.safe_rmtree(engine.runroot)


@pytest.mark.parametrize("userns", [False, True], ids=["no-userns", "uidmap"])
def test_podman_runs_a_container_through_ecifs(daemon, host_state, test_image, podman, userns):
    podman.cli("load", "-q", "-i", str(test_image), timeout=300)
    name = new_name("podman")
    args = ["run", "-d", "--name", name, "--network", "none", "--cgroup-parent", f"/{podman.cgroup_parent}",
            "--memory", "256m", "--cpus", "1", *ULIMITS, *(USERNS if userns else [])]
    cid = podman.cli(*args, image.REPO_TAG, "sleep", "infinity", timeout=300).stdout.strip()
    assert cid in daemon.listing(), "the container did not go through ecifs"
    uid_map = podman.cli("exec", name, "cat", "/proc/self/uid_map").stdout.split()
    assert uid_map[:2] == (["0", "100000"] if userns else ["0", "0"]), uid_map
    if userns:  # the case of issue 9, item 3: the runtime ran in a mount namespace of Podman's
        conmon = podman.cli("inspect", "--format", "{{.State.ConmonPid}}", name).stdout.strip()
        assert os.readlink(f"/proc/{conmon}/ns/mnt") != os.readlink("/proc/self/ns/mnt")

    host_panic = host_state["sysctls"]["kernel.panic"]
    out = podman.cli("exec", name, "sh", "-c", views_script(panic_to_write(host_panic))).stdout
    check_views(out, memory_mib=256, cpus=1, host_panic=host_panic, userns=userns)

    remove(podman, name)
    assert wait_for(lambda: cid not in daemon.listing(), 10), "ecifs still serves the removed container"
