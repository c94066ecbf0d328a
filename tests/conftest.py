from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from pedall.release import build

REPO = Path(__file__).resolve().parents[1]
FIXTURE = Path(__file__).resolve().parent / "fixture"
PACKAGE_FILES = ("datapackage.json", "data", "schemas", "seeds", "CHANGELOG.md", "CITATION.cff",
                 ".zenodo.json", "LICENSE", "README.md")
# The synthetic package takes its data from tests/fixture and everything else (schemas, descriptor,
# citation files) from the repository, so it always follows the current schemas.
FIXTURE_DATA = ("data", "seeds")


def copy_repo(dest: Path) -> Path:
    """A copy of the repository's package with its real (curated) data."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in PACKAGE_FILES:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name)
        else:
            shutil.copyfile(src, dest / name)
    return dest


def copy_fixture(dest: Path) -> Path:
    """A copy of the package with the synthetic data of tests/fixture instead of the curated data."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in PACKAGE_FILES:
        src = (FIXTURE if name in FIXTURE_DATA else REPO) / name
        if src.is_dir():
            shutil.copytree(src, dest / name)
        else:
            shutil.copyfile(src, dest / name)
    return dest


def query_db(db: Path, sql: str) -> list[tuple]:
    """The rows of `sql` on a release database, opened read-only and closed again."""
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def require(available: bool, what: str, install: str) -> None:
    """Skip a test whose external tool is missing, except in CI (CI set), where that is a failure."""
    if available:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{what} is required in CI and is missing (.ci/run installs it: {install})")
    pytest.skip(f"{what} is not installed ({install})")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A scratch copy of the real data package that a test may corrupt."""
    return copy_repo(tmp_path / "repo")


@pytest.fixture
def fixture_repo(tmp_path: Path) -> Path:
    """A scratch copy of the synthetic package that a test may edit."""
    return copy_fixture(tmp_path / "fixture")


@pytest.fixture(scope="session")
def release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The release folder built from the synthetic fixture package."""
    root = copy_fixture(tmp_path_factory.mktemp("fixture") / "repo")
    return build(root, tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="session")
def real_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The release built from the curated data, for the data's own checks (not the tooling's)."""
    return build(REPO, tmp_path_factory.mktemp("real-dist"))
