"""containerd with ecifs-runc as the runc binary of io.containerd.runc.v2: the path
Kubernetes' CRI takes with a runtime's BinaryName. containerd's shim inherits
containerd's environment and runc inherits the shim's, so ECIFS_SOCKET given to
containerd reaches ecifs-runc (with the default socket, nothing needs giving).

Without a user namespace, as CRI runs a pod by default: ctr 1.6 drops --runc-binary
when --uidmap is given too (its runtime options then carry only the I/O owner ids,
so plain runc would run; see options.json of such a task)."""
from __future__ import annotations

import subprocess
import tomllib

import pytest

import image
from conftest import (ECIFS_RUNC, EXAMPLES, INSTALLED_RUNC, NAME_PREFIX, MiB, Engine, check_views, integration, new_name,
                      panic_to_write, require_programs, stop_and_clean, views_script, wait_for)

NAMESPACE = NAME_PREFIX  # containerd's namespace, of this session only


class Containerd(Engine):
    name = "containerd"
    # Shim sockets and the runc shim's runc root: containerd 1.6 puts them there
    # whatever its configuration; ctr's fifos unless --fifo-dir.
    default_paths = ["/run/containerd/s", f"/run/containerd/runc/{NAMESPACE}", "/run/containerd/runc",
                     "/run/containerd/fifo", "/run/containerd"]

    def __init__(self, work, ecifs_socket):
        super().__init__(work)
        self.socket = self.dir / "containerd.sock"
        self.config_file = self.dir / "config.toml"
        self.config_file.write_text(self.config())
        self.ecifs_socket = ecifs_socket

    def config(self) -> str:
        d = self.dir
        return f"""version = 2
root = "{d / 'root'}"
state = "{d / 'state'}"
# Only what ctr run needs: no CRI, no tracing, no snapshotters but the overlay one.
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "{self.socket}"
[ttrpc]
  address = "{self.socket}.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "{d / 'opt'}"
"""

    def start(self) -> "Containerd":
        self.spawn(["containerd", "--config", str(self.config_file)],
                   env=integration.proc_env(ECIFS_SOCKET=str(self.ecifs_socket)))
        self.wait_ready(lambda: self.socket.exists() and self.ctr("version", check=False).returncode == 0)
        return self

    def ctr(self, *args: str, **kw):
        return self.run(["ctr", "--address", str(self.socket), "--namespace", NAMESPACE, *args], **kw)


@pytest.fixture
def containerd(work_dir, daemon):
    require_programs("containerd", "containerd-shim-runc-v2", "ctr", "runc")
    engine = Containerd(work_dir, daemon.socket)
    try:
        yield engine.start()
    finally:
        if engine.proc is not None and engine.proc.poll() is None:
            for task in engine.ctr("tasks", "ls", "-q", check=False).stdout.split():
                engine.ctr("tasks", "kill", "-s", "SIGKILL", task, check=False)
                wait_for(lambda: engine.ctr("tasks", "delete", task, check=False).returncode == 0, 10)
            for container in engine.ctr("containers", "ls", "-q", check=False).stdout.split():
                engine.ctr("containers", "delete", container, check=False)
        stop_and_clean(engine)


RECIPE = EXAMPLES / "containerd" / "ecifs.toml"
CRI = "io.containerd.grpc.v1.cri"


def ecifs_runtime(config: dict) -> dict:
    return config["plugins"][CRI]["containerd"]["runtimes"]["ecifs"]


def test_the_cri_recipe_is_what_containerd_reads(work_dir):
    # The drop-in imported by a main config, as the recipe says, and the configuration
    # containerd makes of them (`config dump` parses and merges without starting).
    require_programs("containerd")
    main = work_dir / f"{new_name('cfg')}.toml"
    main.write_text(f'version = 2\nimports = ["{RECIPE}"]\n')
    r = subprocess.run(["containerd", "--config", str(main), "config", "dump"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    runtime = ecifs_runtime(tomllib.loads(r.stdout))
    assert runtime["runtime_type"] == "io.containerd.runc.v2"
    assert runtime["options"]["BinaryName"] == INSTALLED_RUNC


def test_containerd_runs_a_container_through_ecifs(daemon, host_state, test_image, containerd):
    containerd.ctr("images", "import", "--no-unpack", str(test_image), timeout=300)
    ref = next(r for r in containerd.ctr("images", "ls", "-q").stdout.split() if r.endswith(image.REPO_TAG))
    name = new_name("ctr")
    # The recipe's runtime, with the build's binary for /usr/bin's.
    runtime = ecifs_runtime(tomllib.loads(RECIPE.read_text()))
    assert runtime["options"]["BinaryName"] == INSTALLED_RUNC
    containerd.ctr("run", "-d", "--fifo-dir", str(containerd.dir / "fifo"),
                   "--runtime", runtime["runtime_type"], "--runc-binary", str(ECIFS_RUNC),
                   "--memory-limit", str(256 * MiB), "--cpus", "1", "--cgroup", f"/{containerd.cgroup_parent}/{name}",
                   ref, name, "sleep", "infinity", timeout=300)
    assert name in daemon.listing(), "the container did not go through ecifs"

    host_panic = host_state["sysctls"]["kernel.panic"]
    out = containerd.ctr("tasks", "exec", "--fifo-dir", str(containerd.dir / "fifo"), "--exec-id", "views", name,
                         "sh", "-c", views_script(panic_to_write(host_panic))).stdout
    check_views(out, memory_mib=256, cpus=1, host_panic=host_panic, userns=False)

    containerd.ctr("tasks", "kill", "-s", "SIGKILL", name)
    assert wait_for(lambda: containerd.ctr("tasks", "delete", name, check=False).returncode == 0, 15)
    containerd.ctr("containers", "delete", name)
    assert wait_for(lambda: name not in daemon.listing(), 10), "ecifs still serves the removed container"
