"""tests/integration/conftest.py as a module of its own, for the suites that reuse its
daemon and container fixtures (tests/engines, tests/hostile) and for the benchmarks
(bench/*.py): both files are named `conftest`, so it is loaded under another name, once."""
from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import tempfile
from pathlib import Path

_PATH = Path(__file__).resolve().parent / "integration" / "conftest.py"
_NAME = "ecifs_integration_fixtures"


def load():
    if _NAME in sys.modules:
        return sys.modules[_NAME]
    sys.path.insert(0, str(_PATH.parent))
    spec = importlib.util.spec_from_file_location(_NAME, _PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[_NAME] = module
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def daemon_and_containers(tag: str):
    """Outside pytest (the benchmarks): a daemon of its own in a new directory under /tmp,
    and a Containers manager for runc containers through ecifs-runc against it. On exit the
    containers are deleted, the daemon stopped and the directory removed."""
    it = load()
    work = Path(tempfile.mkdtemp(prefix=f"{it.NAME_PREFIX}-{tag}-", dir="/tmp"))
    os.chmod(work, 0o755)
    daemon = it.Daemon(work)
    mgr = None
    try:
        daemon.start(log_level="warn")
        mgr = it.Containers(work, daemon.socket, daemon)
        yield mgr
    finally:
        if mgr:
            mgr.cleanup()
        daemon.cleanup()
        it.safe_rmtree(work)
