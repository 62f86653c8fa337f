"""The tree is lint-clean and formatted by the rules in pyproject.toml ([tool.ruff]):
pycodestyle, pyflakes, import order, bugbear, pyupgrade; ruff format."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _ruff() -> list[str]:
    beside = Path(sys.executable).with_name("ruff")
    if beside.is_file():
        return [str(beside)]
    if shutil.which("ruff"):
        return ["ruff"]
    pytest.fail("ruff is not installed: pip install -e '.[test]'")


def test_ruff_finds_nothing():
    result = subprocess.run(
        [*_ruff(), "check", "--no-cache", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_leaves_the_tree_as_it_is():
    result = subprocess.run(
        [*_ruff(), "format", "--check", "--no-cache", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, "run `ruff format .`:\n" + result.stdout + result.stderr
