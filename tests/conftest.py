from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pedall.release import build

REPO = Path(__file__).resolve().parents[1]
PACKAGE_FILES = ("datapackage.json", "data", "schemas", "seeds", "CHANGELOG.md", "CITATION.cff",
                 ".zenodo.json", "LICENSE", "README.md")


def copy_repo(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name in PACKAGE_FILES:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name)
        else:
            shutil.copyfile(src, dest / name)
    return dest


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A scratch copy of the data package that a test may corrupt."""
    return copy_repo(tmp_path / "repo")


@pytest.fixture(scope="session")
def release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The release folder built from the repository's real data."""
    return build(REPO, tmp_path_factory.mktemp("dist"))
