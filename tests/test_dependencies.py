"""No dependency is silently held back: what the install gave is what the index serves.

A cap in one package (gTTS capped click below what huggingface_hub 2 needs) makes pip settle,
without a word, on old versions of others: the Hub client and transformers stayed a year
behind. This compares, for every package the project names and the ones those pull in that
decide results, the installed version with the newest the index would give each on its own.
A newest release that cannot be installed from this index at all (transformers 5.25 needs a
`kernels` the index does not serve) is the index's gap, not a cap of ours, and is not counted.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Pinned on purpose by the README's install (a local CPU wheel); everything else floats.
PINNED = {"torch"}
# Pulled in by what the project names, and deciding results or downloads.
TRANSITIVE = ["tokenizers", "safetensors", "ctranslate2", "onnxruntime", "click"]


def _names() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in ("tts", "plot", "ray", "test"):
        requirements += project["optional-dependencies"][extra]
    names = []
    for requirement in requirements:
        name = re.match(r"[A-Za-z0-9_.-]+", requirement).group(0)
        if name.lower() != "berg-tribe" and name.lower() not in PINNED:
            names.append(name)
    return list(dict.fromkeys(names + TRANSITIVE))


def _pip_dry_run(*args: str) -> subprocess.CompletedProcess:
    """``pip install --dry-run --ignore-installed --quiet ARGS`` in this environment."""
    return subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet"]
        + list(args),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _installable_on_its_own(requirement: str, tmp_path: Path) -> bool:
    """Whether pip resolves ``requirement`` with its dependencies, beside the pinned torch."""
    constraints = tmp_path / "pinned.txt"
    constraints.write_text("".join(f"{name}=={version(name)}\n" for name in PINNED))
    return _pip_dry_run("--constraint", str(constraints), requirement).returncode == 0


def test_the_install_has_the_newest_versions_the_index_serves(tmp_path):
    names = _names()
    report = tmp_path / "report.json"
    result = _pip_dry_run("--no-deps", "--report", str(report), *names)
    if result.returncode != 0 or not report.exists():
        pytest.skip(f"the package index cannot be asked here: {result.stderr.strip()[-300:]}")
    newest = {
        entry["metadata"]["name"].lower().replace("_", "-"): entry["metadata"]["version"]
        for entry in json.loads(report.read_text())["install"]
    }
    held_back = []
    for name, available in sorted(newest.items()):
        try:
            installed = version(name)
        except PackageNotFoundError:
            continue
        if installed != available and _installable_on_its_own(f"{name}=={available}", tmp_path):
            held_back.append(f"{name} {installed} (the index has {available})")
    assert not held_back, "held back by a cap somewhere: " + "; ".join(held_back)
