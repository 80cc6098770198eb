"""Fixtures for the hostile-container tests (issue 11): the integration suite's daemon
and containers, and what every attack checks afterwards: the daemon still serves, and
the neighbours are unharmed."""
from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
import integration_fixtures  # noqa: E402

integration = integration_fixtures.load()
binaries, work_dir, watchdog = integration.binaries, integration.work_dir, integration.watchdog
make_daemon, daemon, containers = integration.make_daemon, integration.daemon, integration.containers
MiB, new_name, wait_for = integration.MiB, integration.new_name, integration.wait_for


def build_probe(work_dir: Path, name: str) -> Path:
    """tests/hostile/NAME.c, built static."""
    return integration.build_static_probe(work_dir, HERE / f"{name}.c")


install = integration.install_probe


def assert_daemon_serves(d) -> None:
    assert d.running(), d.log_tail()
    assert d.request({"op": "list"}).get("ok") is True
