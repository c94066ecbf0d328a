"""The release README starts with its files and how to load them; its commands run as written.

The zip is copied into an empty folder and unpacked by the README's own first block; the Python and
DuckDB command-line blocks then run from inside the folder (the R block runs in test_r_loader.py).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO
from pedall.package import load_package
from readme_blocks import blocks, shell_env, unpack

PKG = load_package(REPO)


@pytest.fixture(scope="module")
def unpacked(real_release: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    # the README's commands are what users of the curated release run: tried on that release
    return unpack(real_release.parent / f"{real_release.name}.zip", tmp_path_factory.mktemp("readme") / "empty")


def test_readme_starts_with_files_and_loading_in_this_version(release: Path) -> None:
    text = (release / "README.md").read_text(encoding="utf-8")
    head = text.split("\n## ", 3)
    assert PKG.version in head[0]
    assert head[1].startswith("Files") and head[2].startswith("Load the data")
    langs = [lang for lang, _ in blocks(text)]
    assert langs[0] == "sh" and {"python", "r"} <= set(langs) and langs.count("sh") >= 2
    assert f"pedall-{PKG.version}.zip" in blocks(text)[0][1]
    for t in PKG.tables:
        assert f"| `{t}` |" in text
    assert (REPO / "README.md").read_text(encoding="utf-8") in text  # the project README follows


def test_python_block_runs_as_written(unpacked: Path) -> None:
    code = next(c for lang, c in blocks((unpacked / "README.md").read_text()) if lang == "python")
    res = subprocess.run([sys.executable, "-c", code], cwd=unpacked, env=shell_env(),
                         capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
    assert "binary_outcomes" not in res.stderr and "cr_cri" in res.stdout
    assert "Int64" in res.stdout and "category" in res.stdout  # integers stay integers, enums categoricals


def test_duckdb_command_line_block_runs_as_written(unpacked: Path) -> None:
    code = [c for lang, c in blocks((unpacked / "README.md").read_text()) if lang == "sh"][1]
    assert code.startswith("duckdb ")
    res = subprocess.run(["bash", "-euo", "pipefail", "-c", code], cwd=unpacked, env=shell_env(),
                         capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL)
    assert res.returncode == 0, res.stderr
    assert "eliana" in res.stdout and "n_treated" in res.stdout and "measure" in res.stdout
