"""The README's "In Python" and "In R" sections, run as written on a clone holding the fixture's build.

The clone is the synthetic package with the session's release copied into its `dist/`, so the
examples meet the repository's own build (checked against its data) as a user's clone would.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, copy_fixture, require
from pedall import rpackage
from pedall.package import load_package
from readme_blocks import shell_env

_FENCE = re.compile(r"^```(\w+)\n(.*?)^```$", re.M | re.S)


def _section(title: str) -> list[tuple[str, str]]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    body = text.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]
    return [(m.group(1), m.group(2)) for m in _FENCE.finditer(body)]


@pytest.fixture(scope="module")
def clone(release: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = copy_fixture(tmp_path_factory.mktemp("clone") / "repo")
    (root / "dist").mkdir()
    shutil.copytree(release, root / "dist" / release.name)
    tarball = rpackage.tarball_name(load_package(root).version)
    if (release.parent / tarball).is_file():
        shutil.copyfile(release.parent / tarball, root / "dist" / tarball)
    return root


def test_in_python_runs_as_written(clone: Path) -> None:
    (sh, install), (py, code) = _section("In Python")
    assert (sh, py) == ("sh", "python")
    # the install line is the Makefile's own set-up target, which this test environment was made by
    target = install.split("#", 1)[0].split()[1]
    assert f"\n{target}:" in "\n" + (REPO / "Makefile").read_text(encoding="utf-8").replace("$(STAMP)", target)
    assert len(code.strip().splitlines()) == 5
    res = subprocess.run([sys.executable, "-c", code], cwd=clone, capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
    assert "overall" in res.stdout and "fake-alpha" in res.stdout and "complete_remission_percent" in res.stdout


def test_in_r_runs_as_written(clone: Path, tmp_path: Path) -> None:
    ok = shutil.which("Rscript") is not None and subprocess.run(
        ["Rscript", "-e", "library(metafor)"], capture_output=True, check=False).returncode == 0
    require(ok, "R with metafor", "apt-get install r-base-core r-cran-jsonlite r-cran-metafor")
    (sh, install), (r, code) = _section("In R")
    assert (sh, r) == ("sh", "r")
    assert len(code.strip().splitlines()) == 5
    env = {**shell_env(), "R_LIBS": str(tmp_path)}  # installs into a scratch library, not the machine's
    res = subprocess.run(["bash", "-euo", "pipefail", "-c", install], cwd=clone, env=env, capture_output=True,
                         text=True, check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    assert (tmp_path / "pedall" / "DESCRIPTION").is_file()
    res = subprocess.run(["Rscript", "-e", code], cwd=clone, env=env, capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
    assert "'data.frame'" in res.stdout and "overall" in res.stdout and "fake-alpha" in res.stdout

