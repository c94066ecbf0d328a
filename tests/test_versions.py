"""Versions: value-level diff, changelog of data changes, release checks, frozen release records."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import REPO, copy_fixture
from editing import set_cell
from pedall import citation, snapshot
from pedall.check_release import check
from pedall.diff import compare, to_json, to_markdown
from pedall.history import check_record, freeze
from pedall.metadata import ReleaseError
from pedall.package import load_package
from pedall.release import build

TARGET = {"outcome_id": "fake-2020-alpha-efs-12m"}


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
                   check=True, capture_output=True)


def _bump_patch(root: Path) -> str:
    old = load_package(root).version
    major, minor, patch = map(int, old.split("."))
    new = f"{major}.{minor}.{patch + 1}"
    for name in ("datapackage.json", ".zenodo.json"):
        p = root / name
        p.write_text(p.read_text().replace(f'"version": "{old}"', f'"version": "{new}"'))
    cff = root / "CITATION.cff"
    cff.write_text(cff.read_text().replace(f'version: "{old}"', f'version: "{new}"'))
    log = root / "CHANGELOG.md"
    log.write_text(log.read_text().replace(f"## [{old}]", f"## [{new}] - 2030-01-01\n\n### Fixed\n"
                                           f"- 12-month EFS of the primary FAKE-ALPHA report.\n\n## [{old}]", 1))
    citation.write(load_package(root))  # the README's citation block carries the version too
    return new


@pytest.fixture(scope="module")
def two_releases(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A git repository with two versions that differ in one value, and both releases built."""
    base = tmp_path_factory.mktemp("versions")
    root = copy_fixture(base / "repo")
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "first")
    old = build(root, base / "dist")
    set_cell(root, "outcomes", TARGET, estimate="51")
    _bump_patch(root)
    _git(root, "commit", "-qam", "fix one value")
    new = build(root, base / "dist")
    return root, old, new


def _only_change(d) -> tuple[str, dict]:  # type: ignore[no-untyped-def]
    changed = {name: t for name, t in d.tables.items() if t}
    assert list(changed) == ["outcomes"]
    t = changed["outcomes"]
    assert (t.added, t.removed) == ([], [])
    assert len(t.changed) == 1
    return t.changed[0]


@pytest.mark.parametrize("sides", ["folders", "zips", "git"])
def test_diff_shows_exactly_the_changed_value(two_releases: tuple[Path, Path, Path], sides: str) -> None:
    root, old, new = two_releases
    a, b = {"folders": (str(old), str(new)),
            "zips": (f"{old}.zip", f"{new}.zip"),
            "git": ("HEAD~1", "HEAD")}[sides]
    key, changes = _only_change(compare(snapshot.load(a, root), snapshot.load(b, root)))
    assert key == ("fake-2020-alpha-efs-12m",)
    assert changes == {"estimate": ("50", "51")}


def test_diff_formats(two_releases: tuple[Path, Path, Path]) -> None:
    root, old, new = two_releases
    d = compare(snapshot.load(str(old), root), snapshot.load(str(new), root))
    md = to_markdown(d)
    assert "| outcome_id=fake-2020-alpha-efs-12m | estimate | 50 | 51 |" in md
    out = json.loads(to_json(d))
    assert out["tables"]["outcomes"]["changed"] == [
        {"key": {"outcome_id": "fake-2020-alpha-efs-12m"}, "values": {"estimate": {"old": "50", "new": "51"}}}]
    assert out["tables"]["studies"] == {"columns_added": [], "columns_removed": [], "added": [], "removed": [],
                                        "changed": []}


def test_cli_diff(two_releases: tuple[Path, Path, Path]) -> None:
    root, old, _ = two_releases
    res = subprocess.run([sys.executable, "-m", "pedall.cli", "--root", str(root), "diff", str(old), "HEAD",
                          "--format", "json"], capture_output=True, text=True, check=True)
    assert json.loads(res.stdout)["tables"]["outcomes"]["changed"][0]["values"] == {
        "estimate": {"old": "50", "new": "51"}}


def test_new_changelog_entry_lists_the_changed_value(two_releases: tuple[Path, Path, Path]) -> None:
    _, old, new = two_releases
    text = (new / "CHANGELOG.md").read_text()
    entry = text[text.index(f"## [{load_package(new.parent.parent / 'repo').version}]"):
                 text.index(f"## [{old.name.removeprefix('pedall-')}]")]
    assert f"### Data changes since {old.name.removeprefix('pedall-')}" in entry
    assert "| outcome_id=fake-2020-alpha-efs-12m | estimate | 50 | 51 |" in entry
    assert "| outcomes | 0 | 0 | 1 |" in entry


def test_check_release_passes_on_both_and_fails_on_one_altered_byte(two_releases: tuple[Path, Path, Path],
                                                                   tmp_path: Path) -> None:
    _, old, new = two_releases
    for rel in (old, new):
        assert check(rel) == []
        assert check(Path(f"{rel}.zip")) == []
    bad = Path(shutil.copytree(new, tmp_path / new.name))
    csv = bad / "data" / "studies.csv"
    data = bytearray(csv.read_bytes())
    data[-2] ^= 1
    csv.write_bytes(bytes(data))
    problems = check(bad)
    assert any("data/studies.csv does not match its checksum" in p for p in problems), problems
    bad_zip = tmp_path / f"{new.name}.zip"
    with zipfile.ZipFile(f"{new}.zip") as src, zipfile.ZipFile(bad_zip, "w") as dst:
        for info in src.infolist():
            body = src.read(info)
            if info.filename.endswith("data/arms.csv"):
                body = body.replace(b"single_arm", b"single_arn", 1)
            dst.writestr(info, body)
    assert any("data/arms.csv does not match its checksum" in p for p in check(bad_zip))


def test_check_release_catches_metadata_problems(two_releases: tuple[Path, Path, Path], tmp_path: Path) -> None:
    _, _, new = two_releases
    bad = Path(shutil.copytree(new, tmp_path / "pedall-0.0.1"))  # folder name disagrees with the version
    z = json.loads((bad / ".zenodo.json").read_text())
    z["related_identifiers"] = []
    (bad / ".zenodo.json").write_text(json.dumps(z))
    cff = bad / "CITATION.cff"
    cff.write_text(cff.read_text().replace("authors:", "writers:"))
    problems = check(bad)
    assert any("folder name 'pedall-0.0.1'" in p for p in problems)
    assert any(p.startswith(".zenodo.json: related_identifiers:") for p in problems), problems
    assert any(p.startswith("CITATION.cff is not valid CFF") for p in problems)
    assert any(".zenodo.json does not match its checksum" in p for p in problems)


def test_a_recorded_version_refuses_changed_data(tmp_path: Path) -> None:
    root = copy_fixture(tmp_path / "repo")
    pkg = load_package(root)
    record = freeze(pkg)
    assert record.read_text().count("\n") == len({t.path for t in pkg.tables.values()}
                                                 | {t.schema_path for t in pkg.tables.values()}) + 1
    set_cell(root, "outcomes", TARGET, estimate="51")
    with pytest.raises(ReleaseError, match=r"released with other content .*data/outcomes\.csv"):
        build(root, tmp_path / "dist")
    assert not (tmp_path / "dist" / f"pedall-{pkg.version}").exists()


def test_repository_data_equal_the_recorded_release_of_this_version() -> None:  # the real data
    # Fails when the data differ from the last release while the version did not change.
    check_record(load_package(REPO))
