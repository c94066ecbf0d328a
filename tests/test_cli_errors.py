"""Every subcommand turns bad arguments, bad SQL and missing, foreign or broken files into one line.

Each case runs `pedall` in-process: an exception escaping main() fails the test (it would be a
traceback), and the exit code and the single stderr line are checked.
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import duckdb
import pytest

from conftest import REPO
from pedall.cli import main
from pedall.pool import pool
from pedall.release import DB_NAME


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def _one_line(capsys: pytest.CaptureFixture[str], want_code: int, fragment: str, *args: str) -> None:
    code, err = _run(capsys, *args)
    assert code == want_code, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pedall: ") and fragment in lines[0], err


def test_query_unknown_table(release: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _one_line(capsys, 1, "nope", "query", "select * from nope", "--db", str(release / DB_NAME))


def test_query_syntax_error(release: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _one_line(capsys, 1, "syntax error", "query", "selec 1", "--db", str(release / DB_NAME))


def test_query_and_pool_on_a_file_that_is_no_database(capsys: pytest.CaptureFixture[str]) -> None:
    _one_line(capsys, 1, "is not a pedall release", "query", "select 1", "--db", str(REPO / "README.md"))
    _one_line(capsys, 1, "is not a pedall release", "pool", "crs", "--db", str(REPO / "README.md"))


def test_pool_on_a_database_that_is_not_a_release(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "other.duckdb"
    duckdb.connect(str(db)).close()
    _one_line(capsys, 1, "is not a pedall release", "pool", "crs", "--db", str(db))


def test_plot_into_a_missing_folder(release: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _one_line(capsys, 2, "does not exist", "pool", "crs", "--db", str(release / DB_NAME),
              "--plot", str(tmp_path / "nowhere" / "f.png"))


def test_pool_skips_a_zero_width_interval(release: Path, tmp_path: Path) -> None:
    db = tmp_path / DB_NAME
    shutil.copyfile(release / DB_NAME, db)
    con = duckdb.connect(str(db))
    # every 12-month EFS of one study of the synthetic fixture loses its width
    con.execute("UPDATE outcomes SET ci_upper = ci_lower WHERE measure = 'efs' AND timepoint_months = 12 "
                "AND ci_lower IS NOT NULL AND arm_id = 'fake-beta/car'")
    con.close()
    res = pool(db, "efs", timepoint=12)
    assert ("fake-beta", "confidence interval has no width") in res.excluded


@pytest.mark.parametrize("cmd", ["diff", "check-release"])
def test_file_that_is_not_a_zip(cmd: str, release: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fake = tmp_path / "fake.zip"
    fake.write_text("not a zip")
    other = [str(release)] if cmd == "diff" else []
    code, err = _run(capsys, cmd, str(fake), *other)
    assert code == 1 and "not a zip file" in err


@pytest.mark.parametrize("cmd", ["diff", "check-release"])
def test_folder_without_datapackage(cmd: str, release: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    other = [str(release)] if cmd == "diff" else []
    code, err = _run(capsys, cmd, str(tmp_path), *other)
    assert code == 1 and "no datapackage.json" in err


@pytest.mark.parametrize("cmd", ["diff", "check-release"])
def test_broken_datapackage_json(cmd: str, release: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = Path(shutil.copytree(release, tmp_path / release.name))
    (broken / "datapackage.json").write_text("{not json", encoding="utf-8")
    other = [str(release)] if cmd == "diff" else []
    code, err = _run(capsys, cmd, str(broken), *other)
    assert code == 1 and "not valid JSON" in err


def test_zip_with_two_top_folders(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    z = tmp_path / "two.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("a/x", "1")
        zf.writestr("b/y", "2")
    code, err = _run(capsys, "check-release", str(z))
    assert code == 1 and "one top folder" in err


def test_outside_a_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    for cmd in (["validate"], ["build"], ["freeze"], ["query", "select 1"]):
        _one_line(capsys, 2, "not inside a pedall repository", *cmd)
    _one_line(capsys, 2, "not a pedall repository", "--root", str(tmp_path), "validate")


def test_broken_repository_descriptor(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "datapackage.json").write_text("{", encoding="utf-8")
    _one_line(capsys, 1, "datapackage.json: not valid JSON", "--root", str(repo), "validate")
    (repo / "datapackage.json").write_text('{"resources": [{"name": "x"}]}', encoding="utf-8")
    _one_line(capsys, 1, "lacks a required property", "--root", str(repo), "validate")


def test_missing_schema_file(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "schemas" / "arms.schema.json").unlink()
    _one_line(capsys, 1, "schemas/arms.schema.json: cannot be read", "--root", str(repo), "validate")


def test_unwritable_output(repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, err = _run(capsys, "--root", str(repo), "build", "--dist", str(blocker / "dist"))
    assert code == 1 and err.startswith("pedall: ") and len(err.strip().splitlines()) == 1, err
    (repo / "releases").write_text("")  # freeze must create releases/: a file in the way
    code, err = _run(capsys, "--root", str(repo), "freeze")
    assert code == 1 and err.startswith("pedall: ") and len(err.strip().splitlines()) == 1, err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["pool"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["validate", "--bogus"])
    assert exc.value.code == 2
