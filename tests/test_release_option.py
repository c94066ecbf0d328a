"""`pedall query` and `pedall pool` on any release: a folder, its zip or the DuckDB file, from any directory."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import REPO
from pedall.opening import NotARelease, connect

SQL = "select study_id, n_treated from study_summary where study_id = 'fake-alpha'"  # the synthetic fixture


def _pedall(*args: str, cwd: Path, pythonpath: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run([sys.executable, "-m", "pedall.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, check=False)


def _targets(release: Path) -> dict[str, Path]:
    return {"folder": release, "zip": release.parent / f"{release.name}.zip",
            "duckdb": release.parent / f"{release.name}.duckdb"}


@pytest.mark.parametrize("kind", ["folder", "zip", "duckdb"])
def test_query_and_pool_work_on_each_kind_of_release_from_an_empty_folder(release: Path, tmp_path: Path,
                                                                          kind: str) -> None:
    target = _targets(release)[kind]
    res = _pedall("query", SQL, "--release", str(target), "--format", "json", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == [{"study_id": "fake-alpha", "n_treated": 55}]
    if kind == "zip":  # pool opens releases as query does (in-process for all three kinds below)
        res = _pedall("pool", "cr_cri", "--release", str(target), "--format", "json", cwd=tmp_path)
        assert res.returncode == 0, res.stderr
        assert json.loads(res.stdout)["summary"][-1]["k"] >= 2
    assert list(tmp_path.iterdir()) == []  # nothing unpacked or written where the user stands


def test_inside_an_unpacked_release_no_option_is_needed(release: Path) -> None:
    res = _pedall("query", SQL, "--format", "csv", cwd=release / "figures")
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["study_id,n_treated", "fake-alpha,55"]


def test_the_three_kinds_give_the_same_pooled_result(release: Path) -> None:
    from pedall.pool import pool

    results = [pool(t, "crs", grade_min=3, by="intervention_class") for t in _targets(release).values()]
    first = results[0]
    for other in results[1:]:
        assert [(s.study_id, s.xi, s.n) for s in other.studies] == [(s.study_id, s.xi, s.n) for s in first.studies]
        assert other.overall.pooled.estimate == first.overall.pooled.estimate


def test_installed_outside_a_clone(release: Path, tmp_path: Path) -> None:
    # The package alone (as pip installs it, with its package data) and no repository around it.
    site = tmp_path / "site"
    shutil.copytree(REPO / "scripts" / "pedall", site / "pedall", ignore=shutil.ignore_patterns("__pycache__"))
    work = tmp_path / "work"
    work.mkdir()
    res = _pedall("query", SQL, "--release", str(_targets(release)["zip"]), "--format", "csv", cwd=work,
                  pythonpath=site)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["study_id,n_treated", "fake-alpha,55"]
    where = subprocess.run([sys.executable, "-c", "import pedall; print(pedall.__file__)"], cwd=work,
                           env={**os.environ, "PYTHONPATH": str(site)}, capture_output=True, text=True, check=True)
    assert where.stdout.strip() == str(site / "pedall" / "__init__.py")  # the copy ran, not the clone's code
    res = _pedall("query", SQL, cwd=work, pythonpath=site)  # no clone, no --release: say what to do
    assert res.returncode == 2 and "--release" in res.stderr and "Traceback" not in res.stderr


def test_not_a_release_is_one_line_and_exit_1(release: Path, tmp_path: Path) -> None:
    stray = tmp_path / "notes.txt"
    stray.write_text("hello\n")
    other_zip = tmp_path / "other.zip"
    with zipfile.ZipFile(other_zip, "w") as zf:
        zf.writestr("other/README.md", "not a release\n")
    for target in (tmp_path / "missing", tmp_path, stray, release / "datapackage.json", other_zip):
        with pytest.raises(NotARelease) as exc, connect(target):
            pass
        assert str(target) in str(exc.value) and "\n" not in str(exc.value)
    for cmd, arg, target in (("query", "select 1", stray), ("pool", "cr_cri", other_zip)):
        res = _pedall(cmd, arg, "--release", str(target), cwd=tmp_path)
        assert res.returncode == 1, (target, res.stderr)
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("pedall: ") and str(target) in lines[0], res.stderr
