"""The Python API (`import pedall`): its docstring examples, and the same answers as the command line."""

from __future__ import annotations

import doctest
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import pedall
from conftest import copy_fixture
from pedall import api
from pedall.package import load_package
from pedall.problems import UserError

HEAVY = ("pandas", "polars", "pyarrow", "duckdb", "_duckdb", "scipy", "frictionless")


def _run(cwd: Path, *cmd: str) -> str:
    res = subprocess.run(list(cmd), cwd=cwd, capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
    return res.stdout


def test_docstring_examples(release: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # run from inside the fixture's release folder, as a user inside an unpacked release
    broken = copy_fixture(tmp_path / "broken")
    text = (broken / "data" / "outcomes.csv").read_text(encoding="utf-8")
    (broken / "data" / "outcomes.csv").write_text(text.replace(",reported,", ",reportd,", 1), encoding="utf-8")
    monkeypatch.chdir(release)
    globs = {"REPOSITORY": copy_fixture(tmp_path / "good"), "BROKEN": broken}
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    tests = [t for t in finder.find(api, globs=globs) if t.examples]
    assert {t.name.rsplit(".", 1)[1] for t in tests} >= {"connect", "table", "pool", "validate"}
    for t in tests:
        runner.run(t)
    assert runner.tries >= 10
    assert runner.failures == 0, f"{runner.failures} docstring example(s) failed (see the output above)"


def test_import_is_cheap() -> None:
    out = _run(Path.cwd(), sys.executable, "-c",
               f"import sys, pedall; print([m for m in {HEAVY!r} if m in sys.modules])")
    assert out.strip() == "[]"


def test_pool_prints_the_estimate_of_the_command_line(release: Path) -> None:
    cli = json.loads(_run(release, sys.executable, "-m", "pedall.cli", "pool", "cr_cri", "--format", "json"))
    estimate = cli["summary"][-1]["estimate"]
    # the README's one-liner, as written, from inside the release folder
    out = _run(release, sys.executable, "-c", "import pedall; print(pedall.pool('cr_cri').pooled)")
    assert f"{estimate:.6f}" in out
    res = pedall.pool("cr_cri", path=release)
    assert res.estimate == pytest.approx(estimate, abs=1e-12)
    assert res.pooled["estimate"].iloc[-1] == pytest.approx(estimate, abs=1e-12)
    assert res.studies["study_id"].tolist() == [s["study_id"] for s in cli["studies"]]
    assert res.excluded.to_dict("records") == cli["excluded"]


def test_pool_lists_exclusions_and_takes_one_keep(release: Path) -> None:
    res = pedall.pool("cr_cri", path=release, design="all", keep="fake-alpha")
    assert "fake-alpha" in res.studies["study_id"].tolist()
    assert list(res.excluded.columns) == ["study_id", "reason"]


def test_tables_keep_the_schema_types(release: Path) -> None:
    schema = load_package(Path(__file__).resolve().parents[1]).tables["outcomes"]
    outcomes = pedall.table("outcomes", release)
    assert len(outcomes) == len((release / "data" / "outcomes.csv").read_text(encoding="utf-8").splitlines()) - 1
    for f in schema.fields:
        if f.enum:
            assert list(outcomes[f.name].cat.categories) == list(f.enum), f.name
        elif f.type == "integer":
            assert str(outcomes[f.name].dtype) == "Int64", f.name
    assert pedall.table("study_summary", release, backend="polars").height == 4
    assert pedall.table("binary_outcomes", release / "pedall.duckdb", backend="arrow").num_rows > 0
    with pytest.raises(UserError, match="no table or view 'nope'"):
        pedall.table("nope", release)


def test_connect_to_a_zip_and_refuse_a_stale_build(release: Path, fixture_repo: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    con = pedall.connect(release.parent / f"{release.name}.zip")
    assert con.execute("select count(*) from study_summary").fetchone() == (4,)
    con.close()
    # the repository's own build is used when no path is given, and refused once the data change
    dist = fixture_repo / "dist"
    dist.mkdir()
    shutil.copytree(release, dist / release.name)
    monkeypatch.chdir(fixture_repo)
    assert pedall.connect().execute("select count(*) from studies").fetchone() == (4,)
    csv = fixture_repo / "data" / "studies.csv"
    csv.write_text(csv.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    with pytest.raises(Exception, match="built from older inputs"):
        pedall.connect()


def test_validate_returns_records(fixture_repo: Path) -> None:
    assert pedall.validate(fixture_repo) == []
    csv = fixture_repo / "data" / "arms.csv"
    lines = csv.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    row = lines[1].split(",")
    row[header.index("arm_id")] = ""
    csv.write_text("\n".join([lines[0], ",".join(row), *lines[2:]]) + "\n", encoding="utf-8")
    problems = pedall.validate(fixture_repo)
    assert any(p["file"] == "data/arms.csv" and p["row"] == 2 and p["column"] == "arm_id" for p in problems)
