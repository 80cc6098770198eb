"""tests/integration/conftest.py as a module of its own, for the suites that reuse its
daemon and container fixtures (tests/engines, tests/hostile): both files are named
`conftest`, so it is loaded under another name, once."""
from __future__ import annotations

import importlib.util
import sys
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
