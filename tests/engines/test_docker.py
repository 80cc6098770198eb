"""Docker Engine (Debian's docker.io) with ecifs-runc as a runtime of daemon.json, and
user-namespace remapping, as the README tells a user to set it up."""
from __future__ import annotations

import json
import os

import pytest

import image
from conftest import (ECIFS_RUNC, EXAMPLES, INSTALLED_RUNC, Engine, check_views, new_name, panic_to_write,
                      require_programs, stop_and_clean, views_script, wait_for)


class Dockerd(Engine):
    name = "docker"
    # Its trust key, its plugin directory, and what its own containerd makes.
    default_paths = ["/etc/docker/key.json", "/run/docker/plugins", "/run/docker", "/run/containerd/s",
                     "/run/containerd", "/opt/containerd/bin", "/opt/containerd/lib", "/opt/containerd"]

    def __init__(self, work, ecifs_socket):
        super().__init__(work)
        self.socket = self.dir / "docker.sock"
        self.config_file = self.dir / "daemon.json"
        self.config_file.write_text(json.dumps(self.config(ecifs_socket), indent=1))

    def config(self, ecifs_socket) -> dict:
        # The recipe (runtimes, userns-remap), with the build's binary and the test's
        # daemon; the rest keeps this engine off the host's own places.
        recipe = json.loads((EXAMPLES / "docker" / "daemon.json").read_text())
        runtime = recipe["runtimes"]["ecifs"]
        assert runtime["path"] == INSTALLED_RUNC
        runtime.update(path=str(ECIFS_RUNC), runtimeArgs=[f"--ecifs-socket={ecifs_socket}"])
        return recipe | {
            "data-root": str(self.dir / "data"),
            "exec-root": str(self.dir / "exec"),
            "pidfile": str(self.dir / "docker.pid"),
            "hosts": [f"unix://{self.socket}"],
            "storage-driver": "vfs",
            # No host networking state: no bridge, no iptables rules, no ip_forward.
            "bridge": "none",
            "iptables": False,
            "ip6tables": False,
            "ip-forward": False,
            "ip-masq": False,
            "exec-opts": ["native.cgroupdriver=cgroupfs"],
            "cgroup-parent": f"/{self.cgroup_parent}",
        }

    def start(self) -> "Dockerd":
        self.spawn(["dockerd", "--config-file", str(self.config_file)])
        self.wait_ready(lambda: self.socket.exists() and self.cli("version", check=False).returncode == 0)
        return self

    def cli(self, *args: str, **kw):
        # /usr/bin/docker: the CLI of the same package (another may come first in PATH).
        env = dict(os.environ, DOCKER_CONFIG=str(self.dir / "cli"))
        return self.run(["/usr/bin/docker", "-H", f"unix://{self.socket}", *args], env=env, **kw)


@pytest.fixture
def dockerd(work_dir, daemon):
    require_programs("dockerd", "containerd", "runc")
    engine = Dockerd(work_dir, daemon.socket)
    try:
        yield engine.start()
    finally:
        if engine.proc is not None and engine.proc.poll() is None:
            ids = engine.cli("ps", "-aq", check=False).stdout.split()
            if ids:
                engine.cli("rm", "-f", *ids, check=False)
        stop_and_clean(engine)


def test_docker_runs_a_container_through_ecifs(daemon, host_state, test_image, dockerd):
    dockerd.cli("load", "-i", str(test_image), timeout=300)
    name = new_name("docker")
    cid = dockerd.cli("run", "-d", "--name", name, "--runtime", "ecifs", "--network", "none",
                      "--memory", "256m", "--cpus", "1", image.REPO_TAG, "sleep", "infinity").stdout.strip()
    assert cid in daemon.listing(), "the container did not go through ecifs"
    # userns-remap: the container's root is an unprivileged host uid.
    uid_map = dockerd.cli("exec", name, "cat", "/proc/self/uid_map").stdout.split()
    assert uid_map[0] == "0" and uid_map[1] != "0", uid_map

    host_panic = host_state["sysctls"]["kernel.panic"]
    out = dockerd.cli("exec", name, "sh", "-c", views_script(panic_to_write(host_panic))).stdout
    check_views(out, memory_mib=256, cpus=1, host_panic=host_panic, userns=True)

    dockerd.cli("rm", "-f", name)
    assert wait_for(lambda: cid not in daemon.listing(), 10), "ecifs still serves the removed container"
