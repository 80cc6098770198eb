"""The man pages (man/*.8) say what each program's --help says: every option and
subcommand --help lists is in the page, and groff formats each page without a warning."""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from conftest import BIN_DIR

MAN = Path(__file__).resolve().parents[2] / "man"


def rendered(page: Path) -> str:
    env = dict(os.environ, LC_ALL="C.UTF-8", MANWIDTH="200")
    r = subprocess.run(["groff", "-man", "-Tutf8", "-ww", str(page)], capture_output=True, text=True, env=env,
                       check=True)
    assert r.stderr == "", r.stderr
    # no hyphenation or bold/underline sequences in the way of a search
    text = re.sub(r".\x08", "", r.stdout).replace("\u2010", "-").replace("\u2212", "-")
    return re.sub(r"-\n\s*", "-", text)


def help_of(*argv: str) -> str:
    return subprocess.run([str(BIN_DIR / argv[0]), *argv[1:], "--help"], capture_output=True, text=True,
                          check=True).stdout


def long_options(help_text: str) -> set[str]:
    return set(re.findall(r"^\s+(?:-\w,)?(--[\w-]+)", help_text, re.M))


@pytest.mark.parametrize("program", ["ecifs", "ecifsctl", "ecifs-runc"])
def test_every_option_of_the_help_is_in_the_man_page(program):
    page = rendered(MAN / f"{program}.8")
    options = long_options(help_of(program).split("The runtime's help follows.")[0])
    assert options, "no option found in --help"
    missing = sorted(o for o in options if o not in page)
    assert not missing, missing


def test_every_subcommand_of_ecifsctl_and_its_options_are_in_its_page():
    page = rendered(MAN / "ecifsctl.8")
    subcommands = re.findall(r"^  ([a-z-]+)\s{2,}", help_of("ecifsctl").split("Subcommands:")[1], re.M)
    assert len(subcommands) >= 6, subcommands
    for sub in subcommands:
        assert re.search(rf"^\s+{re.escape(sub)}\b", page, re.M), sub
        missing = sorted(o for o in long_options(help_of("ecifsctl", sub)) if o not in page)
        assert not missing, (sub, missing)
