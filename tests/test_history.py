"""Builds that cannot lie about history: a shallow clone or a machine without git refuses in one line,
a full clone of the same commit reproduces the recorded bytes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import copy_fixture
from pedall.history import freeze
from pedall.metadata import ReleaseError
from pedall.package import load_package
from pedall.release import build
from test_versions import _bump_patch, _git


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    """A git repository whose current version follows a recorded release, and its zip built there."""
    base = tmp_path_factory.mktemp("history")
    root = copy_fixture(base / "origin")
    _git(root, "init", "-q")
    freeze(load_package(root))
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "release")
    _bump_patch(root)
    _git(root, "commit", "-qam", "next version")
    rel = build(root, base / "dist")
    assert "### Data changes since" in (rel / "CHANGELOG.md").read_text()
    return root, Path(f"{rel}.zip").read_bytes()


def _clone(origin: Path, dest: Path, *extra: str) -> Path:
    subprocess.run(["git", "clone", "-q", *extra, origin.as_uri(), str(dest)], check=True, capture_output=True)
    return dest


def test_a_full_clone_reproduces_the_bytes(history: tuple[Path, bytes], tmp_path: Path) -> None:
    origin, zip_bytes = history
    rel = build(_clone(origin, tmp_path / "full"), tmp_path / "dist")
    assert Path(f"{rel}.zip").read_bytes() == zip_bytes


def test_a_shallow_clone_refuses_in_one_line(history: tuple[Path, bytes], tmp_path: Path) -> None:
    clone = _clone(history[0], tmp_path / "shallow", "--depth", "1")
    with pytest.raises(ReleaseError, match=r"shallow.*git fetch --unshallow"):
        build(clone, tmp_path / "dist")
    res = subprocess.run([sys.executable, "-m", "pedall.cli", "--root", str(clone), "build", "--dist",
                          str(tmp_path / "dist2")], capture_output=True, text=True, check=False)
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "shallow" in res.stderr
    assert not (tmp_path / "dist2").exists() or not any((tmp_path / "dist2").iterdir())


def test_without_git_a_recorded_history_refuses_in_one_line(history: tuple[Path, bytes], tmp_path: Path) -> None:
    origin = history[0]
    env = {**os.environ, "PATH": str(tmp_path)}  # a folder without git
    res = subprocess.run([sys.executable, "-m", "pedall.cli", "--root", str(origin), "build", "--dist",
                          str(tmp_path / "dist")], capture_output=True, text=True, check=False, env=env)
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert res.stderr.strip().splitlines() == [res.stderr.strip()] and "git is not installed" in res.stderr


def test_without_git_and_without_records_the_build_goes_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = copy_fixture(tmp_path / "repo")  # nothing recorded: there is no earlier release to compare with
    # every command of PATH but git (the build needs R, and R's scripts need the usual tools)
    tools = tmp_path / "bin"
    tools.mkdir()
    for folder in map(Path, os.environ.get("PATH", "").split(os.pathsep)):
        for exe in sorted(folder.iterdir()) if folder.is_dir() else []:
            if exe.name != "git" and not (tools / exe.name).exists():
                (tools / exe.name).symlink_to(exe)
    monkeypatch.setenv("PATH", str(tools))
    rel = build(root, tmp_path / "dist")
    assert "No earlier release" in (rel / "CHANGELOG.md").read_text()
