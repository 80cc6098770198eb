#!/usr/bin/python3
"""The config.json of a system container: Debian's systemd as PID 1, user-namespaced
(container 0 is host 100000), a read-only cgroup mount and tmpfs on /run and /run/lock,
Docker's capabilities, as Docker writes it; ecifs-runc makes the cgroup the container's
own. Written for the cgroup v2 guest (tests/vm/system.sh, 256 MiB); imported by
tests/engines/test_system_containers.py.

    system_bundle.py CONFIG_JSON
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))
import ecifs_bundle  # noqa: E402


def system_config(memory: int, cgroups_path: str, extra_caps: list[str] | None = None) -> dict:
    cfg = ecifs_bundle.make_config(["/sbin/init"], memory_limit=memory, cgroups_path=cgroups_path,
                                   hostname="system", extra_caps=extra_caps)
    cfg["mounts"] = [m for m in cfg["mounts"] if m["destination"] != "/usr"]  # the image has its own
    cfg["mounts"] += [
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["ro", "nosuid", "noexec", "nodev"]},
        {"destination": "/run", "type": "tmpfs", "source": "tmpfs", "options": ["rw", "nosuid", "nodev", "exec"]},
        {"destination": "/run/lock", "type": "tmpfs", "source": "tmpfs", "options": ["rw", "nosuid", "nodev", "noexec"]},
    ]
    return cfg


def main() -> int:
    Path(sys.argv[1]).write_text(json.dumps(system_config(256 << 20, "/system"), indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
