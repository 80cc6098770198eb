#!/usr/bin/python3
"""Build an OCI bundle (rootfs + config.json) for a small runc container.

The rootfs is a skeleton: `proc sys dev tmp etc usr root` directories, the merged-/usr
symlinks (`bin -> usr/bin`, `sbin -> usr/sbin`, `lib -> usr/lib`, `lib64 -> usr/lib64`),
a minimal /etc, and in config.json a read-only bind mount of the host's /usr onto /usr,
so procps (`free`, `sysctl`), busybox (busybox-static), python3 and a shell are there.

Used by the integration tests (imported) and by scripts/demo.sh (through
scripts/lib/rootfs.sh, which runs this file):

    ecifs_bundle.py BUNDLE [--memory BYTES] [--cpus 1.5] [--cgroups-path /x]
                    [--no-userns] [--host-id 100000] [--hostname NAME] [-- ARGS...]

(default ARGS: sleep infinity)

With a user namespace (the default) container uid/gid 0..65535 map to host
100000..165535; the rootfs is chowned to the mapped root and every directory from /
down to the bundle must be traversable by that uid (the bundle dir is made 0755;
its parents are the caller's business: don't put bundles under a 0700 directory).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

DEFAULT_HOST_ID = 100000
DEFAULT_ID_RANGE = 65536
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

ROOTFS_DIRS = ["proc", "sys", "dev", "tmp", "etc", "usr", "root", "run", "var", "var/tmp", "mnt", "home"]
ROOTFS_LINKS = {"bin": "usr/bin", "sbin": "usr/sbin", "lib": "usr/lib", "lib64": "usr/lib64"}

PASSWD = """root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
"""
GROUP = """root:x:0:
daemon:x:1:
tty:x:5:
nogroup:x:65534:
"""


def make_rootfs(rootfs: Path | str, owner_uid: int | None = DEFAULT_HOST_ID,
                owner_gid: int | None = DEFAULT_HOST_ID) -> Path:
    """Create the rootfs skeleton at `rootfs`; chown it to owner_uid/gid (None: keep root)."""
    rootfs = Path(rootfs)
    rootfs.mkdir(parents=True, exist_ok=True)
    os.chmod(rootfs, 0o755)
    for d in ROOTFS_DIRS:
        (rootfs / d).mkdir(parents=True, exist_ok=True)
        os.chmod(rootfs / d, 0o755)
    os.chmod(rootfs / "tmp", 0o1777)
    os.chmod(rootfs / "var/tmp", 0o1777)
    os.chmod(rootfs / "root", 0o700)
    for name, target in ROOTFS_LINKS.items():
        link = rootfs / name
        if not link.is_symlink():
            link.symlink_to(target)
    etc = rootfs / "etc"
    (etc / "passwd").write_text(PASSWD)
    (etc / "group").write_text(GROUP)
    (etc / "hostname").write_text("ecifs\n")
    (etc / "hosts").write_text("127.0.0.1\tlocalhost\n::1\tlocalhost\n")
    (etc / "nsswitch.conf").write_text("passwd: files\ngroup: files\nhosts: files\n")
    # The dynamic loader finds Debian's multiarch libraries through the cache.
    for f in ("ld.so.cache", "ld.so.conf"):
        src = Path("/etc") / f
        if src.is_file():
            shutil.copyfile(src, etc / f)
    if Path("/etc/ld.so.conf.d").is_dir():
        shutil.copytree("/etc/ld.so.conf.d", etc / "ld.so.conf.d", dirs_exist_ok=True)
    for p in etc.rglob("*"):
        if p.is_file() and not p.is_symlink():
            os.chmod(p, 0o644)
    if owner_uid is not None:
        gid = owner_gid if owner_gid is not None else owner_uid
        for dirpath, dirnames, filenames in os.walk(rootfs):
            os.lchown(dirpath, owner_uid, gid)
            for n in dirnames + filenames:
                os.lchown(os.path.join(dirpath, n), owner_uid, gid)
    return rootfs


def make_config(args: list[str], *, userns: bool = True, host_id: int = DEFAULT_HOST_ID,
                id_range: int = DEFAULT_ID_RANGE, memory_limit: int | None = None,
                cpus: float | None = None, cpu_period: int = 100000,
                cgroups_path: str | None = None, hostname: str = "ecifs",
                terminal: bool = False, env: list[str] | None = None,
                extra_caps: list[str] | None = None) -> dict:
    """An OCI runtime config (the shape of `runc spec`), console-less by default."""
    caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_CHOWN",
            "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_SETGID", "CAP_SETUID",
            "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_RAW", "CAP_SYS_CHROOT", "CAP_MKNOD"]
    caps += extra_caps or []
    mounts = [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs",
         "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/usr", "type": "bind", "source": "/usr",
         "options": ["rbind", "ro", "nosuid", "nodev"]},
    ]
    namespaces = [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")]
    linux: dict = {
        "resources": {"devices": [{"allow": False, "access": "rwm"}]},
        "namespaces": namespaces,
        "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                        "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                        "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
        "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                          "/proc/sysrq-trigger"],
    }
    if userns:
        namespaces.append({"type": "user"})
        linux["uidMappings"] = [{"containerID": 0, "hostID": host_id, "size": id_range}]
        linux["gidMappings"] = [{"containerID": 0, "hostID": host_id, "size": id_range}]
    if memory_limit is not None:
        linux["resources"]["memory"] = {"limit": int(memory_limit)}
    if cpus is not None:
        linux["resources"]["cpu"] = {"quota": int(round(cpus * cpu_period)), "period": cpu_period}
    if cgroups_path is not None:
        linux["cgroupsPath"] = cgroups_path
    return {
        "ociVersion": "1.0.2-dev",
        "process": {
            "terminal": terminal,
            "user": {"uid": 0, "gid": 0},
            "args": list(args),
            "env": env if env is not None else [f"PATH={DEFAULT_PATH}", "HOME=/root", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {k: list(caps) for k in ("bounding", "effective", "permitted")},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": False},
        "hostname": hostname,
        "mounts": mounts,
        "linux": linux,
    }


def make_bundle(bundle: Path | str, args: list[str] | None = None, *, userns: bool = True,
                host_id: int = DEFAULT_HOST_ID, **config_kw) -> Path:
    """Create BUNDLE/rootfs and BUNDLE/config.json; returns the bundle path."""
    bundle = Path(bundle)
    bundle.mkdir(parents=True, exist_ok=True)
    os.chmod(bundle, 0o755)
    owner = host_id if userns else None
    make_rootfs(bundle / "rootfs", owner, owner)
    cfg = make_config(args or ["sleep", "infinity"], userns=userns, host_id=host_id, **config_kw)
    write_config(bundle, cfg)
    return bundle


def read_config(bundle: Path | str) -> dict:
    return json.loads((Path(bundle) / "config.json").read_text())


def write_config(bundle: Path | str, cfg: dict) -> None:
    (Path(bundle) / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("bundle")
    p.add_argument("--memory", type=int, help="memory limit in bytes")
    p.add_argument("--cpus", type=float, help="CPU quota in CPUs (period 100000)")
    p.add_argument("--cgroups-path")
    p.add_argument("--no-userns", action="store_true")
    p.add_argument("--host-id", type=int, default=DEFAULT_HOST_ID)
    p.add_argument("--hostname", default="ecifs")
    if "--" in argv:
        cut = argv.index("--")
        argv, args = argv[:cut], argv[cut + 1:]
    else:
        args = []
    a = p.parse_args(argv)
    make_bundle(a.bundle, args or None, userns=not a.no_userns, host_id=a.host_id,
                memory_limit=a.memory, cpus=a.cpus, cgroups_path=a.cgroups_path,
                hostname=a.hostname)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
