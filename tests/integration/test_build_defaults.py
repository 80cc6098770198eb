"""A user's or a packager's cmake build never fails on a compiler's warning (issue 9,
item 10): -Werror is the project's own choice, made by scripts/build.sh, never a default
of CMakeLists.txt, whatever the build type."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def compile_flags(build_dir: Path, *cmake_args: str) -> list[str]:
    subprocess.run(["cmake", "-S", str(REPO), "-B", str(build_dir), *cmake_args], check=True,
                   capture_output=True, timeout=300)
    commands = json.loads((build_dir / "compile_commands.json").read_text())
    return [c["command"] for c in commands]


@pytest.mark.parametrize("build_type", ["Release", "Debug", "RelWithDebInfo", ""])
def test_a_users_build_has_no_werror(tmp_path, build_type):
    commands = compile_flags(tmp_path / "build", f"-DCMAKE_BUILD_TYPE={build_type}")
    assert commands
    assert not [c for c in commands if "-Werror" in c.split()]
    assert all("-Wall" in c.split() and "-Wextra" in c.split() for c in commands)


def test_the_projects_own_build_turns_werror_on():
    script = (REPO / "scripts" / "build.sh").read_text()
    assert "-DECIFS_WERROR=ON" in script
