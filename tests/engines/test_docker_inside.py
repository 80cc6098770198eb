"""Docker inside an ecifs container: Docker Engine 20.10 (the host's /usr, bound read-only)
runs in a user-namespaced container of plain ecifs-runc, not privileged, with one added
capability, and runs a container of an imported image in it.

What it needs of ecifs: the container's own cgroup (shim/cgroup_delegation.hpp), where
the inner runc makes the inner container's; the trapper's procfs mount on the path runc
opens as /proc/self/fd/N (seccomp/mount_helper.cpp, open_named), dressed with the views,
so the inner container sees the outer one's memory. What it needs of the kernel: mount
and unshare in the user namespace, which CAP_SYS_ADMIN (of that namespace only) gives;
without it, dockerd starts and loads images but the inner runc cannot make the
namespaces of a container (README.md, "System containers").
"""
from __future__ import annotations

import shutil

from conftest import integration, new_name, require_programs, wait_for

MEMORY = 1 << 30
DAEMON_JSON = ('{"storage-driver": "vfs", "iptables": false, "ip6tables": false, "bridge": "none", '
               '"ip-forward": false, "ip-masq": false}')


def docker_inside_config(cfg: dict) -> None:
    cfg["mounts"] += [
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["ro", "nosuid", "noexec", "nodev"]},
        *({"destination": d, "type": "tmpfs", "source": "tmpfs", "options": ["rw", "exec"]}
          for d in ("/run", "/var/run", "/var/lib/docker", "/var/lib/containerd", "/etc/docker")),
    ]
    cfg["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "hard": 16384, "soft": 16384}]


def start_dockerd_inside(containers, test_image, caps: list[str]):
    """An outer container with dockerd running and the test image loaded."""
    outer = containers.start(memory=MEMORY, extra_caps=caps, edit_config=docker_inside_config)
    shutil.copy(test_image, outer.bundle / "rootfs/tmp/image.tar")
    (outer.bundle / "rootfs/tmp/image.tar").chmod(0o644)
    outer.exec(f"echo '{DAEMON_JSON}' > /etc/docker/daemon.json; setsid dockerd > /tmp/dockerd.log 2>&1 < /dev/null &")
    assert wait_for(lambda: containers.runc("exec", outer.id, "docker", "info").returncode == 0, 60), \
        outer.exec("tail -n 30 /tmp/dockerd.log", check=False)
    outer.exec("docker load -i /tmp/image.tar", timeout=300)
    return outer


def test_docker_runs_a_container_inside_an_ecifs_container(daemon, host_state, test_image, work_dir):
    require_programs("runc", "dockerd", "containerd", "docker")
    containers = integration.Containers(work_dir, daemon.socket, daemon)
    try:
        outer = start_dockerd_inside(containers, test_image, ["CAP_SYS_ADMIN", "CAP_NET_ADMIN"])
        name = new_name("inner")
        outer.exec(f"docker run -d --name {name} --network none ecifs-test/debian:bookworm sleep infinity", timeout=300)
        out = outer.exec(f"docker exec {name} sh -c 'echo inner says hello; grep MemTotal /proc/meminfo'")
        assert "inner says hello" in out, out
        # The inner procfs carries the outer container's views (the trapper dressed it).
        assert f"MemTotal:        {MEMORY // 1024} kB" in out, out
        # The inner container's cgroup is below the outer one's, on the host too.
        inner_id = outer.exec(f"docker inspect -f '{{{{.Id}}}}' {name}").strip()
        assert any(p.is_dir() for c in outer.cgroup_dirs() for p in c.rglob(inner_id)), \
            f"no cgroup {inner_id} below {outer.cgroup_dirs()}"
        outer.exec(f"docker rm -f {name}")
    finally:
        problems = containers.cleanup()  # the outer container's end ends dockerd and its containers
    assert not problems, problems


def test_without_cap_sys_admin_the_inner_runc_cannot_make_namespaces(daemon, host_state, test_image, work_dir):
    """Where Docker inside stops with Docker's default capabilities (README.md says so)."""
    require_programs("runc", "dockerd", "containerd", "docker")
    containers = integration.Containers(work_dir, daemon.socket, daemon)
    try:
        outer = start_dockerd_inside(containers, test_image, [])
        r = containers.runc("exec", outer.id, "docker", "run", "--rm", "--network", "none",
                            "ecifs-test/debian:bookworm", "true")
        assert r.returncode != 0 and "runc create failed" in r.stderr, (r.returncode, r.stderr)
    finally:
        problems = containers.cleanup()
    assert not problems, problems
