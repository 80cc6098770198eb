"""The engines' test image, built without a registry: a Debian root filesystem made by
mmdebstrap from Debian's archive (the essential packages plus procps, so `free` and
`sysctl` exist), packed as a docker-archive (`docker load`, `podman load` and
`ctr images import` all read that format). Cached: the archive is rebuilt only when
the recipe changes (its name carries a hash of the recipe).

Where Debian's archive cannot be reached (mmdebstrap fails), the root filesystem is
made from this Debian host's own installed files instead: the programs the tests run
in the container (a shell, coreutils, procps, getconf, awk) with the shared libraries
`ldd` names. The engines get the same image format either way; the fallback is said
on stderr and in the image's history. ECIFS_IMAGE_FROM_HOST=1 makes that image
without asking the archive (how the fallback itself is tried).

    python3 tests/engines/image.py [--cache DIR] [--systemd] [--rootfs]
                                   prints the archive's path (--rootfs: its root filesystem's)
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

DEFAULT_CACHE = Path(os.environ.get("ECIFS_IMAGE_CACHE", "/var/cache/ecifs-images"))
SUITE = "bookworm"
# Documentation is never read by a test: leave it out (a third of the size).
EXCLUDE = ["/usr/share/man/*", "/usr/share/doc/*", "/usr/share/locale/*", "/usr/share/info/*"]


@dataclass(frozen=True)
class Recipe:
    name: str
    tag: str
    include: tuple[str, ...]
    # Made from the host's own programs where the archive is out of reach (see above);
    # an image whose point is a package it installs (systemd) has no such fallback.
    host_fallback: bool = True

    def as_dict(self) -> dict:
        return {"suite": SUITE, "variant": "essential", "include": list(self.include), "exclude": EXCLUDE,
                "tag": self.tag, "format": 1}

    def hash(self) -> str:
        return hashlib.sha256(json.dumps(self.as_dict(), sort_keys=True).encode()).hexdigest()[:12]


# The engines' image: the essential packages plus procps (`free`, `sysctl`).
DEFAULT = Recipe("debian", "ecifs-test/debian:bookworm", ("procps",))
# A system container's: systemd as PID 1 (tests/engines/test_system_containers.py).
SYSTEMD = Recipe("debian-systemd", "ecifs-test/debian-systemd:bookworm",
                 ("procps", "systemd", "systemd-sysv", "dbus"), host_fallback=False)
REPO_TAG = DEFAULT.tag


def archive_path(cache: Path, r: Recipe = DEFAULT) -> Path:
    return cache / f"{r.name}-{SUITE}-{r.hash()}.docker.tar"


def rootfs_path(cache: Path, r: Recipe = DEFAULT) -> Path:
    """The root filesystem the archive's layer holds, kept beside it (runc bundles)."""
    return cache / f"{r.name}-{SUITE}-{r.hash()}.rootfs.tar"


MMDEBSTRAP_TIMEOUT = 600


def mmdebstrap(rootfs_tar: Path, r: Recipe = DEFAULT) -> None:
    cmd = ["mmdebstrap", "--quiet", "--variant=essential", f"--include={','.join(r.include)}"]
    cmd += [f"--dpkgopt=path-exclude={p}" for p in EXCLUDE]
    cmd += [SUITE, str(rootfs_tar)]
    try:
        done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=MMDEBSTRAP_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise RuntimeError(f"mmdebstrap could not run: {e}") from e
    if done.returncode != 0:
        raise RuntimeError(f"mmdebstrap failed (exit {done.returncode}); it needs Debian's archive:\n"
                           f"{done.stdout}{done.stderr}")


# What the tests run inside the container, taken from the host when the archive is out
# of reach. /bin/sh is dash on Debian; `sleep infinity` is coreutils'.
HOST_PROGRAMS = [
    "/bin/sh", "/usr/bin/cat", "/usr/bin/head", "/usr/bin/tr", "/usr/bin/sleep", "/usr/bin/echo",
    "/usr/bin/ls", "/usr/bin/id", "/usr/bin/mawk", "/usr/bin/getconf", "/usr/bin/free", "/usr/bin/uptime",
    "/usr/sbin/sysctl", "/usr/bin/top", "/usr/bin/ps",
]
HOST_ALIASES = {"/usr/bin/awk": "mawk"}
HOST_ETC = {"passwd": "root:x:0:0:root:/root:/bin/sh\n", "group": "root:x:0:\n"}


def shared_libraries(program: str) -> list[str]:
    """The files `ldd` says `program` loads (the dynamic loader included)."""
    r = subprocess.run(["ldd", program], capture_output=True, text=True)
    found = []
    for line in r.stdout.splitlines():
        for word in line.split():
            if word.startswith("/"):
                found.append(word)
    return found


def host_rootfs(rootfs_tar: Path) -> None:
    """A root filesystem of the host's own programs (see the module's docstring); the
    usr-merged layout of Debian 12 (/bin, /lib, /lib64, /sbin are links into /usr)."""
    files: set[str] = set()
    for program in HOST_PROGRAMS:
        real = os.path.realpath(program)
        if not os.path.exists(real):
            raise RuntimeError(f"the host has no {program} for the fallback image (scripts/setup.sh installs it)")
        files.add(program)
        files.update(shared_libraries(real))
    with tarfile.open(rootfs_tar, "w") as tar:
        for d in ["usr", "usr/bin", "usr/sbin", "usr/lib", "usr/lib/x86_64-linux-gnu", "usr/lib64", "etc", "proc", "sys", "dev", "tmp", "run",
                  "root", "var", "var/tmp"]:
            info = tarfile.TarInfo(d)
            info.type = tarfile.DIRTYPE
            info.mode = 0o1777 if d in ("tmp", "var/tmp") else 0o755
            tar.addfile(info)
        for link, target in [("bin", "usr/bin"), ("sbin", "usr/sbin"), ("lib", "usr/lib"), ("lib64", "usr/lib64")]:
            info = tarfile.TarInfo(link)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)
        for path in sorted(files):
            real = os.path.realpath(path)
            inside = usr_path(path)
            tar.add(real, arcname=inside, recursive=False)
        for path, name in HOST_ALIASES.items():
            info = tarfile.TarInfo(usr_path(path))
            info.type = tarfile.SYMTYPE
            info.linkname = name
            tar.addfile(info)
        for name, text in HOST_ETC.items():
            add_bytes(tar, f"etc/{name}", text.encode())


def usr_path(path: str) -> str:
    """`path` as it is stored in the usr-merged tree: /bin/x → usr/bin/x."""
    parts = path.strip("/").split("/")
    if parts[0] in ("bin", "sbin", "lib", "lib64"):
        parts.insert(0, "usr")
    return "/".join(parts)


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def image_config(diff_id: str, made_by: str) -> bytes:
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": "1970-01-01T00:00:00Z",
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                   "Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{diff_id}"]},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": f"{made_by} (tests/engines/image.py)"}],
    }
    return json.dumps(config, sort_keys=True).encode()


def add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def docker_archive(rootfs_tar: Path, out: Path, made_by: str, tag: str = REPO_TAG) -> None:
    """One layer (the root filesystem), its config, and manifest.json naming `tag`."""
    diff_id = sha256_of(rootfs_tar)
    config = image_config(diff_id, made_by)
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    layer_name = f"{diff_id}/layer.tar"
    manifest = [{"Config": config_name, "RepoTags": [tag], "Layers": [layer_name]}]
    with tarfile.open(out, "w") as tar:
        add_bytes(tar, config_name, config)
        tar.add(rootfs_tar, arcname=layer_name)
        add_bytes(tar, "manifest.json", json.dumps(manifest).encode())


def ensure_image(cache: Path = DEFAULT_CACHE, r: Recipe = DEFAULT) -> Path:
    """The cached archive, built first if missing (atomically: a half-built archive is
    never found in the cache). Its root filesystem is kept too (rootfs_path)."""
    out = archive_path(cache, r)
    if out.exists() and rootfs_path(cache, r).exists():
        return out
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".build-", dir=cache) as tmp:
        rootfs = Path(tmp) / "rootfs.tar"
        started = time.monotonic()
        try:
            if os.environ.get("ECIFS_IMAGE_FROM_HOST") == "1" and r.host_fallback:
                raise RuntimeError("ECIFS_IMAGE_FROM_HOST=1: not asking Debian's archive")
            mmdebstrap(rootfs, r)
            made_by = "mmdebstrap"
        except RuntimeError as e:
            if not r.host_fallback:
                raise
            print(f"image.py: {e}\nimage.py: making the image from the host's own programs instead",
                  file=sys.stderr)
            rootfs.unlink(missing_ok=True)
            host_rootfs(rootfs)
            made_by = "the host's programs"
            # Under a name of its own, replaced every time: the next run asks the archive again.
            out = cache / f"host-{r.hash()}.docker.tar"
        partial = Path(tmp) / out.name
        docker_archive(rootfs, partial, made_by, r.tag)
        if made_by == "mmdebstrap":
            os.replace(rootfs, rootfs_path(cache, r))
        os.replace(partial, out)
        print(f"image.py: built {out} ({made_by}) in {time.monotonic() - started:.0f}s", file=sys.stderr)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--systemd", action="store_true", help="the system container's image (systemd as PID 1)")
    parser.add_argument("--rootfs", action="store_true", help="print the kept root filesystem's path instead")
    args = parser.parse_args()
    r = SYSTEMD if args.systemd else DEFAULT
    try:
        archive = ensure_image(args.cache, r)
        print(rootfs_path(args.cache, r) if args.rootfs else archive)
    except RuntimeError as e:
        print(f"image.py: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
