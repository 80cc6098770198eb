"""The engines' test image, built without a registry: a Debian root filesystem made by
mmdebstrap from Debian's archive (the essential packages plus procps, so `free` and
`sysctl` exist), packed as a docker-archive (`docker load`, `podman load` and
`ctr images import` all read that format). Cached: the archive is rebuilt only when
the recipe changes (its name carries a hash of the recipe).

    python3 tests/engines/image.py [--cache DIR]   prints the archive's path
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
from pathlib import Path

DEFAULT_CACHE = Path(os.environ.get("ECIFS_IMAGE_CACHE", "/var/cache/ecifs-images"))
SUITE = "bookworm"
INCLUDE = ["procps"]
# Documentation is never read by a test: leave it out (a third of the size).
EXCLUDE = ["/usr/share/man/*", "/usr/share/doc/*", "/usr/share/locale/*", "/usr/share/info/*"]
REPO_TAG = "ecifs-test/debian:bookworm"


def recipe() -> dict:
    return {"suite": SUITE, "variant": "essential", "include": INCLUDE, "exclude": EXCLUDE,
            "tag": REPO_TAG, "format": 1}


def recipe_hash() -> str:
    return hashlib.sha256(json.dumps(recipe(), sort_keys=True).encode()).hexdigest()[:12]


def archive_path(cache: Path) -> Path:
    return cache / f"debian-{SUITE}-{recipe_hash()}.docker.tar"


def mmdebstrap(rootfs_tar: Path) -> None:
    cmd = ["mmdebstrap", "--quiet", "--variant=essential", f"--include={','.join(INCLUDE)}"]
    cmd += [f"--dpkgopt=path-exclude={p}" for p in EXCLUDE]
    cmd += [SUITE, str(rootfs_tar)]
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"mmdebstrap failed (exit {r.returncode}); it needs Debian's archive:\n"
                           f"{r.stdout}{r.stderr}")


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def image_config(diff_id: str) -> bytes:
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": "1970-01-01T00:00:00Z",
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                   "Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{diff_id}"]},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "mmdebstrap (tests/engines/image.py)"}],
    }
    return json.dumps(config, sort_keys=True).encode()


def add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def docker_archive(rootfs_tar: Path, out: Path) -> None:
    """One layer (the root filesystem), its config, and manifest.json naming REPO_TAG."""
    diff_id = sha256_of(rootfs_tar)
    config = image_config(diff_id)
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    layer_name = f"{diff_id}/layer.tar"
    manifest = [{"Config": config_name, "RepoTags": [REPO_TAG], "Layers": [layer_name]}]
    with tarfile.open(out, "w") as tar:
        add_bytes(tar, config_name, config)
        tar.add(rootfs_tar, arcname=layer_name)
        add_bytes(tar, "manifest.json", json.dumps(manifest).encode())


def ensure_image(cache: Path = DEFAULT_CACHE) -> Path:
    """The cached archive, built first if missing (atomically: a half-built archive is
    never found in the cache)."""
    out = archive_path(cache)
    if out.exists():
        return out
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".build-", dir=cache) as tmp:
        rootfs = Path(tmp) / "rootfs.tar"
        started = time.monotonic()
        mmdebstrap(rootfs)
        partial = Path(tmp) / out.name
        docker_archive(rootfs, partial)
        os.replace(partial, out)
        print(f"image.py: built {out} in {time.monotonic() - started:.0f}s", file=sys.stderr)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    args = parser.parse_args()
    try:
        print(ensure_image(args.cache))
    except RuntimeError as e:
        print(f"image.py: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
