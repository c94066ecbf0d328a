"""The R package of a release (dist/pedall_<version>.tar.gz), built from the synthetic fixture.

`R CMD check --no-manual` passes without ERROR or WARNING; once installed, every table has the rows
of its CSV file and the types and levels of its schema, every view the rows DuckDB gives, and
`pedall_pool` the numbers of `pedall pool` to 1e-6. R with jsonlite and metafor comes from Debian
(.ci/run installs it): missing in CI it fails these tests, elsewhere it skips them.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest

from conftest import REPO, copy_fixture, require
from pedall import rpackage
from pedall.package import load_package
from pedall.pool import pool
from pedall.readme import R_LOADER
from pedall.release import DB_NAME

PKG = load_package(REPO)
R_CLASS = {"integer": "integer", "number": "numeric", "boolean": "logical", "date": "Date", "string": "character"}


def _r_ready() -> bool:
    if shutil.which("Rscript") is None:
        return False
    res = subprocess.run(["Rscript", "-e", "library(jsonlite); library(metafor)"], capture_output=True, check=False)
    return res.returncode == 0


@pytest.fixture(scope="module")
def tarball(release: Path) -> Path:
    require(_r_ready(), "R with jsonlite and metafor", "apt-get install r-base-core r-cran-jsonlite r-cran-metafor")
    return release.parent / rpackage.tarball_name(PKG.version)


@pytest.fixture(scope="module")
def library(tarball: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    lib = tmp_path_factory.mktemp("rlib")
    res = subprocess.run(["R", "CMD", "INSTALL", "-l", str(lib), str(tarball)], capture_output=True, text=True,
                         check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    return lib


def _r_json(code: str, lib: Path) -> object:
    env = {**os.environ, "R_LIBS": str(lib)}
    res = subprocess.run(["Rscript", "-e", f"suppressMessages(library(pedall))\n{code}\n"
                          "cat(jsonlite::toJSON(out, digits = NA, na = 'null', auto_unbox = TRUE))"],
                         capture_output=True, text=True, check=False, env=env)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_r_cmd_check_passes(tarball: Path, tmp_path: Path) -> None:
    res = subprocess.run(["R", "CMD", "check", "--no-manual", str(tarball)], cwd=tmp_path, capture_output=True,
                         text=True, check=False, env={**os.environ, "LC_ALL": "C.UTF-8"})
    out = res.stdout + res.stderr
    status = re.search(r"^Status: (.*)$", out, re.M)
    assert res.returncode == 0 and status, out[-3000:]
    assert "ERROR" not in status.group(1) and "WARNING" not in status.group(1), out[-3000:]


def test_tables_have_their_csv_rows_and_schema_types(library: Path, release: Path) -> None:
    got = _r_json("""out <- lapply(c(TABLES), function(n) { d <- get(n); list(nrow = nrow(d), cols = lapply(d,
  function(x) if (is.factor(x)) list(class = "factor", levels = levels(x)) else list(class = class(x)[1]))) })
names(out) <- c(TABLES)""".replace("TABLES", ", ".join(f'"{t}"' for t in PKG.tables)), library)
    assert isinstance(got, dict)
    for t in PKG.tables.values():
        with (release / "data" / f"{t.name}.csv").open(encoding="utf-8", newline="") as fh:
            rows = sum(1 for _ in csv.reader(fh)) - 1
        assert got[t.name]["nrow"] == rows, t.name
        cols = got[t.name]["cols"]
        assert list(cols) == t.field_names
        for f in t.fields:
            want = {"class": "factor", "levels": list(f.enum)} if f.enum else {"class": R_CLASS[f.type]}
            assert cols[f.name] == want, (t.name, f.name)


def test_outcomes_as_the_issue_states_it(library: Path, release: Path) -> None:
    got = _r_json("out <- list(n = nrow(outcomes), levels = levels(outcomes$analysis_population))", library)
    lines = (release / "data" / "outcomes.csv").read_text(encoding="utf-8").splitlines()
    assert got == {"n": len(lines) - 1, "levels": list(PKG.tables["outcomes"].field("analysis_population").enum)}


def test_every_view_is_a_data_frame_with_duckdbs_rows(library: Path, release: Path) -> None:
    con = duckdb.connect(str(release / DB_NAME), read_only=True)
    views = {v: (con.execute(f'SELECT count(*) FROM "{v}"').fetchone()[0],
                 [c[0] for c in con.execute(f'SELECT * FROM "{v}" LIMIT 0').description])
             for (v,) in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
    summary = con.execute("SELECT study_id, complete_remission_percent, n_treated FROM study_summary "
                          "ORDER BY 1").fetchall()
    con.close()
    assert {"binary_outcomes", "study_summary", "summary_outcome_candidates"} <= set(views)
    script = ("out <- lapply(list(VIEWS), function(d) list(nrow = nrow(d), cols = names(d)))\n"
              "out$summary <- study_summary[order(study_summary$study_id), "
              "c('study_id', 'complete_remission_percent', 'n_treated')]")
    got = _r_json(script.replace("VIEWS", ", ".join(f"{v} = {v}" for v in views)), library)
    assert isinstance(got, dict)
    for v, (n, cols) in views.items():
        assert got[v] == {"nrow": n, "cols": cols}, v
    # jsonlite writes 15 significant digits: percents computed from counts compare to 1e-9
    rows = [(r["study_id"], r.get("complete_remission_percent"), r.get("n_treated")) for r in got["summary"]]
    assert [(s, n) for s, _, n in rows] == [(s, n) for s, _, n in summary]
    assert [p for _, p, _ in rows] == pytest.approx([p for _, p, _ in summary], abs=1e-9)


CASES = [("cr_cri", {}), ("cr_cri", {"method": "DL"}), ("efs", {"timepoint": 12}),
         ("crs", {"grade_min": 3, "by": "intervention_class"}), ("cr_cri", {"design": "all", "by": "study_design"}),
         ("cr_cri", {"population": "infused", "include_third_party": True}), ("cr_cri", {"by": "product"}),
         ("cr_cri", {"design": "all", "keep": "fake-alpha"}), ("cr_cri", {"design": "all", "drop": "fake-delta"}),
         ("cr_cri", {"design": "all"}), ("complete_remission", {"design": "all", "keep": "fake-alpha"}),
         ("complete_remission", {"test": "knha"}), ("cr_cri", {"derived": False, "test": "knha"}),
         ("efs", {"timepoint": 11, "timepoint_window": 2})]


def _r_args(kwargs: dict) -> str:
    def lit(v: object) -> str:
        return "TRUE" if v is True else "FALSE" if v is False else f'"{v}"' if isinstance(v, str) else str(v)
    return "".join(f", {k} = {lit(v)}" for k, v in kwargs.items())


@pytest.mark.parametrize(("measure", "kwargs"), CASES)
def test_pedall_pool_gives_pedall_pools_numbers(library: Path, release: Path, measure: str, kwargs: dict) -> None:
    try:
        res = pool(release / DB_NAME, measure, **{k: (v,) if k in ("keep", "drop") else v for k, v in kwargs.items()})
    except Exception as exc:  # e.g. overlapping studies: R must refuse too
        got = _r_json(f'r <- try(pedall_pool("{measure}"{_r_args(kwargs)}), silent = TRUE)\n'
                      'out <- list(failed = inherits(r, "try-error"))', library)
        assert got == {"failed": True}, exc
        return
    got = _r_json(f'r <- pedall_pool("{measure}"{_r_args(kwargs)})\n'
                  "out <- list(pooled = r$pooled, studies = r$studies$study_id, weights = r$studies$weight, "
                  "excluded = r$excluded$study_id, scale = r$scale)", library)
    assert isinstance(got, dict)
    for key in ("studies", "weights", "excluded"):  # jsonlite writes a vector of length 1 as a scalar
        got[key] = got[key] if isinstance(got[key], list) else [got[key]]
    assert got["scale"] == res.scale.name
    assert got["studies"] == [s.study_id for s in res.studies]
    assert got["excluded"] == [s for s, _ in res.excluded]
    for w, s in zip(got["weights"], res.studies, strict=True):
        assert math.isclose(w, s.weight, abs_tol=1e-6), s.study_id
    groups = [*res.groups, res.overall]
    assert [r["group"] for r in got["pooled"]] == [g.group for g in groups]
    for r, g in zip(got["pooled"], groups, strict=True):
        pct = g.percent(res.scale)
        assert (r["k"], r.get("n")) == (g.k, None if g.n_not_reported == g.k else g.n)
        for key in ("estimate", "ci_lower", "ci_upper", "pi_lower", "pi_upper"):
            if math.isnan(pct[key]):
                assert r.get(key) is None, (g.group, key)
            else:
                assert math.isclose(r[key], pct[key], abs_tol=1e-6), (g.group, key, r[key], pct[key])
        for key, want in (("tau2", g.pooled.tau2), ("i2", g.pooled.i2), ("q", g.pooled.q)):
            if math.isnan(want):
                assert r.get(key) is None, (g.group, key)
            else:
                assert math.isclose(r[key], want, abs_tol=1e-6), (g.group, key, r[key], want)


def test_tarball_is_reproducible(tarball: Path, release: Path, tmp_path: Path) -> None:
    root = copy_fixture(tmp_path / "root")  # the same inputs as the session's release
    out = tmp_path / "out"
    out.mkdir()
    rebuilt = rpackage.build(load_package(root), release, release / DB_NAME, out)
    assert rebuilt.read_bytes() == tarball.read_bytes()


def test_loader_in_the_zip_is_generated_from_the_shared_source(release: Path) -> None:
    shipped = (release / R_LOADER).read_text(encoding="utf-8")
    assert shipped == rpackage.loader()
    read_r = (REPO / "scripts" / "pedall" / "R" / "read.R").read_text(encoding="utf-8")
    assert read_r in shipped  # the typing code the package's data frames were made with


def test_a_new_view_needs_no_r_change(release: Path, tmp_path: Path) -> None:
    db = tmp_path / DB_NAME
    shutil.copyfile(release / DB_NAME, db)
    con = duckdb.connect(str(db))
    con.execute("CREATE VIEW extra AS SELECT 1::INTEGER AS a, 3000000000::BIGINT AS big, 2.5 AS x, true AS b, "
                "DATE '2024-02-29' AS d, CAST(design AS studies_design) AS design, [1, 2] AS l, "
                "100.0 AS share_percent FROM studies")
    con.execute("COMMENT ON VIEW extra IS 'A view added later.'")
    objs = {o.name: o for o in rpackage.objects(load_package(REPO), con)}
    con.close()
    extra = objs["extra"]
    assert [(c.name, c.type, c.levels) for c in extra.columns] == [
        ("a", "integer", None), ("big", "number", None), ("x", "number", None), ("b", "boolean", None),
        ("d", "date", None), ("design", "string", PKG.tables["studies"].field("design").enum),
        ("l", "string", None), ("share_percent", "number", None)]
    assert extra.rows and extra.rows[0][6] == "[1, 2]"
    rd = rpackage.data_rd(load_package(REPO), extra, len(extra.rows))
    assert "\\name{extra}" in rd and "A view added later." in rd and "Unit: percent." in rd
    assert "factor with levels \\code{single_arm}" in rd


def test_without_r_the_build_says_what_to_install(release: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(rpackage.RMissing, match=r"Rscript is not installed.*r-base-core"):
        rpackage.build(load_package(REPO), release, release / DB_NAME, tmp_path)
