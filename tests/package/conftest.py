"""Fixtures for the package test: the integration suite's work directory and container
helpers (tests/integration/conftest.py), used with the installed binaries."""
from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
import integration_fixtures  # noqa: E402

integration = integration_fixtures.load()
work_dir, watchdog = integration.work_dir, integration.watchdog
