#!/usr/bin/python3
"""Write the config.json of the guest's system container (tests/vm/system.sh): Debian's
systemd as PID 1, user-namespaced (container 0 is host 100000), 256 MiB, a read-only
cgroup mount and tmpfs on /run and /run/lock, as Docker writes it; ecifs-runc makes it
the container's own cgroup. The same config as tests/engines/test_system_containers.py.

    system_bundle.py CONFIG_JSON
"""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))
import ecifs_bundle  # noqa: E402


def main() -> int:
    cfg = ecifs_bundle.make_config(["/sbin/init"], memory_limit=256 << 20, cgroups_path="/system",
                                   hostname="system")
    cfg["mounts"] = [m for m in cfg["mounts"] if m["destination"] != "/usr"]  # the image has its own
    cfg["mounts"] += [
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["ro", "nosuid", "noexec", "nodev"]},
        {"destination": "/run", "type": "tmpfs", "source": "tmpfs", "options": ["rw", "nosuid", "nodev", "exec"]},
        {"destination": "/run/lock", "type": "tmpfs", "source": "tmpfs", "options": ["rw", "nosuid", "nodev", "noexec"]},
    ]
    Path(sys.argv[1]).write_text(json.dumps(cfg, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
