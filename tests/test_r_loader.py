"""The release's R loader (R/pedall.R) under Rscript, on the built release unpacked from its zip.

Types as the schemas declare, row counts equal to the Parquet files, binary_outcomes equal to the
DuckDB view, a pooled estimate equal to `pedall pool`, and the README's R block as written. R with
jsonlite and metafor comes from Debian (.ci/run installs it): missing in CI (env CI set) it fails
the test; on a developer's machine it skips.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from conftest import REPO
from pedall.package import load_package
from pedall.pool import pool
from pedall.readme import R_LOADER
from pedall.rpackage import loader
from readme_blocks import blocks, shell_env, unpack

PKG = load_package(REPO)
R_CLASS = {"integer": "integer", "number": "numeric", "boolean": "logical", "date": "Date", "string": "character"}


def _r_missing() -> str | None:
    if shutil.which("Rscript") is None:
        return "Rscript is not installed"
    res = subprocess.run(["Rscript", "-e", "library(jsonlite); library(metafor)"], capture_output=True, text=True,
                         check=False)
    return None if res.returncode == 0 else "R lacks jsonlite or metafor"


@pytest.fixture(scope="module")
def r_ok() -> None:
    why = _r_missing()
    if why is None:
        return
    hint = "apt-get install r-base-core r-cran-jsonlite r-cran-metafor"
    if os.environ.get("CI"):
        pytest.fail(f"{why}: CI must run the R loader test ({hint})")
    pytest.skip(f"{why} ({hint})")


@pytest.fixture(scope="module")
def unpacked(release: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return unpack(release.parent / f"{release.name}.zip", tmp_path_factory.mktemp("r") / "empty")


def _rscript(code: str, cwd: Path) -> str:
    res = subprocess.run(["Rscript", "-e", code], cwd=cwd, env=shell_env(), capture_output=True, text=True,
                         check=False)
    assert res.returncode == 0, res.stderr
    return res.stdout


def _r_json(code: str, cwd: Path) -> object:
    # The R code leaves its result in `out`; digits = NA writes doubles at full precision.
    return json.loads(_rscript(f'source("{R_LOADER}")\n{code}\n'
                               "cat(jsonlite::toJSON(out, digits = NA, na = 'null', auto_unbox = TRUE))", cwd))


def test_types_levels_and_row_counts(r_ok: None, unpacked: Path) -> None:
    got = _r_json("""tables <- pedall_read(".")
out <- lapply(tables, function(d) list(nrow = nrow(d), cols = lapply(d, function(x)
  list(class = class(x)[1], levels = if (is.factor(x)) levels(x) else NULL))))""", unpacked)
    assert set(got) == set(PKG.tables)
    for t in PKG.tables.values():
        assert got[t.name]["nrow"] == pq.read_metadata(unpacked / "parquet" / f"{t.name}.parquet").num_rows
        cols = got[t.name]["cols"]
        assert list(cols) == t.field_names
        for f in t.fields:
            if f.enum:
                assert cols[f.name] == {"class": "factor", "levels": list(f.enum)}, (t.name, f.name)
            else:
                assert cols[f.name]["class"] == R_CLASS[f.type], (t.name, f.name)


def test_every_declared_type_converts(r_ok: None, tmp_path: Path) -> None:
    # The release has no date column today; a small package with one of each type covers them all.
    schema = {"fields": [{"name": "i", "type": "integer"}, {"name": "x", "type": "number"},
                         {"name": "b", "type": "boolean"}, {"name": "d", "type": "date"},
                         {"name": "e", "type": "string", "constraints": {"enum": ["lo", "hi"]}},
                         {"name": "s", "type": "string"}], "missingValues": [""]}
    # the schema by path, as in the repository's own datapackage.json (a release inlines it)
    (tmp_path / "t.schema.json").write_text(json.dumps(schema))
    (tmp_path / "datapackage.json").write_text(json.dumps({"name": "t", "resources": [
        {"name": "t", "path": "t.csv", "format": "csv", "schema": "t.schema.json"}]}))
    (tmp_path / "t.csv").write_text('i,x,b,d,e,s\n3,1.5,true,2024-02-29,hi,"a, b"\n,,false,,,\n')
    (tmp_path / "R").mkdir()
    (tmp_path / R_LOADER).write_text(loader(), encoding="utf-8")
    out = _rscript(f'source("{R_LOADER}"); d <- pedall_read(".")$t; str(d); '
                   'stopifnot(identical(d$i, c(3L, NA)), identical(d$d, as.Date(c("2024-02-29", NA))), '
                   'identical(levels(d$e), c("lo", "hi")), identical(d$b, c(TRUE, FALSE)), '
                   'identical(d$s, c("a, b", NA)))', tmp_path)
    assert "Date" in out and "Factor w/ 2 levels" in out


def test_binary_outcomes_equal_the_duckdb_view(r_ok: None, unpacked: Path, release: Path) -> None:
    rows = _r_json('out <- pedall_binary_outcomes(pedall_read("."))', unpacked)
    con = duckdb.connect(str(release.parent / f"{release.name}.duckdb"), read_only=True)
    cur = con.execute("SELECT * FROM binary_outcomes")
    cols = [c[0] for c in cur.description]
    view = {(r["source_table"], r["row_id"]): r for r in (dict(zip(cols, v, strict=True)) for v in cur.fetchall())}
    con.close()
    assert len(rows) == len(view) > 0
    for r in rows:
        v = view[(r["source_table"], r["row_id"])]
        for col, value in r.items():
            want = v[col]
            if isinstance(want, float) and value is not None:
                assert math.isclose(value, want, rel_tol=1e-12, abs_tol=1e-12), (r["row_id"], col)
            else:
                assert value == want, (r["row_id"], col, value, want)


@pytest.mark.parametrize(("measure", "kwargs", "r_measure"), [("cr_cri", {}, "cr_cri"),
                                                              ("crs", {"grade_min": 3}, "crs_grade_3_5")])
def test_pooled_estimate_equals_pedall_pool(r_ok: None, unpacked: Path, release: Path, measure: str, kwargs: dict,
                                            r_measure: str) -> None:
    res = pool(release, measure, method="REML", **kwargs)
    assert res.overall.k >= 2
    picks = ", ".join(f'c("{s.arm_id}", "{s.publication_id}", "{s.population}", {s.xi}, {s.n})'
                      for s in res.studies)
    got = _r_json(f"""dat <- pedall_binary_outcomes(pedall_read("."), measure = "{r_measure}")
picks <- list({picks})
rows <- lapply(picks, function(p) dat[dat$arm_id == p[1] & dat$publication_id == p[2] &
  dat$analysis_population == p[3] & dat$xi == as.integer(p[4]) & dat$ni == as.integer(p[5]), ][1, ])
dat <- do.call(rbind, rows)
fit <- metafor::rma(yi, vi, data = dat, method = "REML", control = list(threshold = 1e-12, maxiter = 10000))
out <- list(k = nrow(dat), estimate = as.numeric(coef(fit)), tau2 = fit$tau2)""", unpacked)
    assert got["k"] == res.overall.k
    assert math.isclose(got["estimate"], res.overall.pooled.estimate, abs_tol=1e-6)
    assert math.isclose(got["tau2"], res.overall.pooled.tau2, abs_tol=1e-6)


def test_readme_r_block_runs_as_written(r_ok: None, unpacked: Path) -> None:
    code = next(c for lang, c in blocks((unpacked / "README.md").read_text()) if lang == "r")
    out = _rscript(code, unpacked)
    assert "Random-Effects Model" in out and "'data.frame'" in out


@pytest.mark.parametrize(("measure", "kwargs", "r_args"), [
    ("complete_remission", {}, '"complete_remission"'),
    ("crs", {"grade_min": 3}, '"crs", grade_min = 3'),
    ("efs", {"timepoint": 12}, '"efs", timepoint = 12'),
    ("cr_cri", {"design": "all", "drop": ("fake-alpha",)}, '"cr_cri", design = "all"'),
])
def test_r_candidates_are_the_figures_pedall_pool_uses(r_ok: None, unpacked: Path, release: Path, measure: str,
                                                       kwargs: dict, r_args: str) -> None:
    # R reads the release's summary_candidates.csv (the views' output), so it picks what pool picks
    res = pool(release, measure, **kwargs)
    got = _r_json(f"""d <- pedall_candidates(".", {r_args})
d <- d[!(d$study_id %in% c({", ".join(f'"{s}"' for s in kwargs.get("drop", ()))})), ]
out <- lapply(seq_len(nrow(d)), function(i) list(study = d$study_id[i], pub = d$publication_id[i],
  x = d$n_events[i], n = d$n_total[i], est = d$estimate[i]))""", unpacked)
    want = [{"study": s.study_id, "pub": s.publication_id, "x": s.xi, "n": s.n} for s in res.studies]
    assert sorted(({k: v for k, v in g.items() if k != "est"} for g in got), key=lambda g: g["study"]) == want
