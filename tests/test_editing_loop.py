"""The editing loop: after editing the data of a version not yet frozen, `make release` rebuilds it in
place, and `pedall pool`/`pedall query` refuse a database built before the edit."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from editing import set_cell
from pedall.release import build

EFS = {"outcome_id": "fake-2020-alpha-efs-6m"}
SQL = "SELECT estimate FROM outcomes WHERE outcome_id = 'fake-2020-alpha-efs-6m'"


def _pedall(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pedall.cli", "--root", str(root), *args],
                          capture_output=True, text=True, check=False)


def test_edit_rebuild_query(fixture_repo: Path) -> None:
    root, dist = fixture_repo, fixture_repo / "dist"
    rel = build(root, dist)
    assert json.loads(_pedall(root, "query", SQL, "--format", "json").stdout) == [{"estimate": 70.0}]

    set_cell(root, "outcomes", EFS, estimate="71", ci_upper="88")
    for args in (("query", SQL), ("pool", "cr_cri")):
        res = _pedall(root, *args)
        assert res.returncode == 2, res.stdout
        assert "built from older inputs (data/outcomes.csv changed since)" in res.stderr
        assert "make release" in res.stderr and "Traceback" not in res.stderr
    # an explicitly chosen database is used as it is
    assert _pedall(root, "query", SQL, "--db", str(rel / "pedall.duckdb")).returncode == 0

    # not frozen: the working build is replaced by one of the current data
    assert build(root, dist) == rel
    assert json.loads(_pedall(root, "query", SQL, "--format", "json").stdout) == [{"estimate": 71.0}]
    # (the hidden .pedall-<version>.inputs beside it is the up-to-date stamp of `pedall build`)
    assert sorted(p.name for p in dist.iterdir() if not p.name.startswith(".")) == sorted(
        [rel.name, f"{rel.name}.zip", f"{rel.name}.duckdb", f"{rel.name}.duckdb.sha256",
         f"pedall_{rel.name.removeprefix('pedall-')}.tar.gz"])
    assert _pedall(root, "check-release", str(rel)).returncode == 0
