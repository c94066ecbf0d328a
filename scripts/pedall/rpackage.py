"""The R package of a release: `dist/pedall_<version>.tar.gz`, built with `R CMD build`.

It holds every table as a data frame typed from its Table Schema, and every other table and view of
the release database (binary_outcomes, study_summary, the candidate views that `pedall pool` ranks,
...) as a data frame typed from the DuckDB column types, so that R filters what DuckDB computed and
nothing is ranked twice. Nothing here names a view or a column: a new view or column reaches the
package, with its help page, at the next build. One help page per data frame is generated (its
`\\format` lists every column with type, levels, description and unit); the functions' pages and code
are in `R/` beside this module (package.R, man/), and the typing code (read.R) is the same that the
release's `R/pedall.R` uses.

The data frames are typed and saved (`.rda`, xz, serialization version 3: no time stamps) by
Rscript running make_data.R; `R CMD build` packs the source folder. Its tarball carries file times,
owners and a `Packaged:` date, so it is re-packed with those fixed (the release date, root, sorted
members, gzip without a time stamp): the same data and R version give the same bytes.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import math
import os
import re
import shutil
import subprocess
import tarfile
from dataclasses import dataclass, field
from importlib.resources import files as package_files
from pathlib import Path
from typing import Any

from .package import Package
from .problems import UserError

R_SOURCES = "R"  # beside this module: read.R, loader.R, package.R, make_data.R, man/*.Rd
EXPORTS = ("pedall_binary_outcomes", "pedall_candidates", "pedall_one_per_study", "pedall_pool",
           "pedall_release")
INSTALL_HINT = "Debian: apt-get install r-base-core r-cran-jsonlite"
_R_INT_MAX = 2**31 - 1
_INTEGER = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
            "UBIGINT", "UHUGEINT"}
_NUMBER = {"DOUBLE", "FLOAT", "REAL"}
_R_CLASS = {"integer": "integer", "number": "double", "boolean": "logical", "date": "Date", "string": "character"}


class RMissing(UserError):
    """R (Rscript with jsonlite) is needed to build the R package and is not installed."""


def tarball_name(version: str) -> str:
    return f"pedall_{version}.tar.gz"


def _source(name: str) -> str:
    return package_files("pedall").joinpath(f"{R_SOURCES}/{name}").read_text(encoding="utf-8")


def loader() -> str:
    """The release's R/pedall.R: the loader and the typing code the R package is built with."""
    return (_source("loader.R").rstrip() + "\n\n# --- typing of each column by its schema (read.R, shared with the "
            "R package) ---\n\n" + _source("read.R"))


@dataclass
class Column:
    name: str
    type: str  # a Table Schema type: integer, number, boolean, date, string
    description: str
    levels: tuple[str, ...] | None = None
    unit: str | None = None


@dataclass
class DataObject:
    """One data frame of the package: a schema table or a table or view of the release database."""

    name: str
    title: str
    description: str
    origin: str  # where it comes from, for its help page
    columns: list[Column]
    rows: list[tuple[Any, ...]] | None = None  # None: the release's CSV file is read instead
    schema: dict[str, Any] = field(default_factory=dict)

    def spec(self) -> dict[str, Any]:
        """What make_data.R types the CSV file by: a Table Schema."""
        if self.schema:
            return self.schema
        return {"missingValues": [""], "fields": [
            {"name": c.name, "type": c.type, **({"constraints": {"enum": list(c.levels)}} if c.levels else {})}
            for c in self.columns]}


def _unit(name: str, declared: str | None) -> str | None:
    # A schema may declare a field's unit; otherwise the column-name suffixes the views use say it.
    if declared:
        return declared
    for suffix, unit in (("_months", "months"), ("_percent", "percent")):
        if name.endswith(suffix):
            return unit
    return None


def _duck_type(data_type: str) -> str:
    base = data_type.split("(", 1)[0].strip()
    if data_type.startswith("ENUM("):
        return "string"
    if base in _INTEGER:
        return "integer"
    if base in _NUMBER or base == "DECIMAL":
        return "number"
    return {"BOOLEAN": "boolean", "DATE": "date"}.get(base, "string")


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def objects(pkg: Package, con: Any) -> list[DataObject]:
    """The package's data frames: the schema tables, then every other table and view, by name."""
    out: list[DataObject] = []
    described: dict[str, str] = {}
    for t in pkg.tables.values():
        declared = {f["name"]: f.get("unit") for f in t.schema.get("fields", [])}
        cols = [Column(f.name, f.type, f.description, f.enum, _unit(f.name, declared.get(f.name))) for f in t.fields]
        out.append(DataObject(t.name, t.title, t.description, f"the table {t.name} ({t.path}, typed by "
                              f"{t.schema_path})", cols, None, t.schema))
        for f in t.fields:
            described.setdefault(f.name, f.description)
    listed = con.execute(
        "SELECT table_name, comment, 'table' FROM duckdb_tables() UNION ALL "
        "SELECT view_name, comment, 'view' FROM duckdb_views() WHERE NOT internal ORDER BY 1").fetchall()
    for name, comment, kind in listed:
        if name in pkg.tables:
            continue
        meta = con.execute("SELECT column_name, data_type, comment FROM duckdb_columns() WHERE table_name = ? "
                           "ORDER BY column_index", [name]).fetchall()
        cols, select = [], []
        for col, data_type, col_comment in meta:
            typ = _duck_type(data_type)
            levels = None
            if data_type.startswith("ENUM("):
                levels = tuple(con.execute(f"SELECT enum_range(NULL::{data_type})").fetchone()[0])
            cols.append(Column(col, typ, col_comment or described.get(col, ""), levels, _unit(col, None)))
            # anything R has no column type for (lists, maps, timestamps) arrives as text
            select.append(_q(col) if typ != "string" or levels or data_type == "VARCHAR"
                          else f"CAST({_q(col)} AS VARCHAR) AS {_q(col)}")
        # sorted by every column, left to right: DuckDB's parallel plans give some views' rows in any order
        rows = con.execute(f"SELECT {', '.join(select)} FROM {_q(name)} ORDER BY ALL").fetchall()
        for i, c in enumerate(cols):  # an integer beyond R's 32-bit integers becomes a double
            if c.type == "integer" and any(r[i] is not None and abs(r[i]) > _R_INT_MAX for r in rows):
                c.type = "number"
        title = f"The {name} {kind} of the release"
        out.append(DataObject(name, title, comment or title + ".", f"the DuckDB {kind} {name} of the release "
                              "database (pedall.duckdb), as `pedall build` computed it", cols, rows))
    return out


def r_cell(v: Any) -> str:
    """A value as a CSV cell R reads back unchanged (empty for NULL, true/false, NaN/Inf, ISO dates)."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "NaN" if math.isnan(v) else ("Inf" if v > 0 else "-Inf") if math.isinf(v) else repr(v)
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v)


def _csv(obj: DataObject, path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow([c.name for c in obj.columns])
        w.writerows([r_cell(v) for v in r] for r in obj.rows or [])


def _rd(text: str) -> str:
    """Plain text as Rd text: backslash, braces and percent escaped."""
    return re.sub(r"([\\{}%])", r"\\\1", text.strip())


def _doi(pkg: Package) -> str:
    d = pkg.descriptor
    doi = d.get("doi") or (d["id"] if str(d.get("id", "")).startswith("10.") else None)
    return (f"DOI \\doi{{{_rd(str(doi))}}}" if doi else
            "DOI: none in datapackage.json (the field doi) for this build; a published release's DOI is on "
            "its Zenodo record")


def data_rd(pkg: Package, obj: DataObject, nrow: int) -> str:
    items = []
    for c in obj.columns:
        kind = ("factor with levels " + ", ".join("\\code{" + _rd(v) + "}" for v in c.levels) if c.levels
                else _R_CLASS[c.type])
        text = kind + "." + (f" {_rd(c.description)}" if c.description else "")
        if c.unit:
            text += f" Unit: {c.unit}."
        items.append(f"  \\item{{\\code{{{c.name}}}}}{{{text}}}")
    d = pkg.descriptor
    created = str(d.get("created", ""))[:10]
    return "\n".join([
        f"% Generated by pedall build from {obj.origin.replace('%', '')}: edit the schema or views.sql, not this file.",
        f"\\name{{{obj.name}}}", f"\\alias{{{obj.name}}}", "\\docType{data}",
        f"\\title{{{_rd(obj.title)}}}", f"\\description{{{_rd(obj.description)}}}", f"\\usage{{{obj.name}}}",
        f"\\format{{A data frame with {nrow} rows and {len(obj.columns)} columns:", "\\describe{", *items, "}}",
        f"\\source{{pedall release {pkg.version} ({created}), {_rd(d['title'])}: {_rd(obj.origin)}. {_doi(pkg)}. "
        f"\\url{{{d.get('homepage', '')}}}}}",
        "\\keyword{datasets}", ""])


def _description(pkg: Package) -> str:
    d = pkg.descriptor
    owner = re.sub(r"^https?://github\.com/([^/]+)/.*$", r"\1", d.get("homepage", "")) or "pedall"
    author = (d.get("contributors") or [{"title": "pedall curators"}])[0]["title"]
    email = (d.get("contributors") or [{}])[0].get("email") or f"{owner}@users.noreply.github.com"
    text = " ".join(d["description"].split()).replace("'", "")
    return "\n".join([
        "Package: pedall",
        "Type: Package",
        "Title: Published Outcomes of Immunotherapy Trials in Pediatric B-ALL",
        f"Version: {pkg.version}",
        f"Date: {str(d.get('created', ''))[:10]}",
        f"Authors@R: person(\"{author}\", role = c(\"aut\", \"cre\"), email = \"{email}\")",
        f"Description: {text} Release {pkg.version} of the pedall dataset: every table and the",
        "    analysis-ready views as data frames, and a pooling helper over metafor.",
        "License: file LICENSE",
        f"URL: {d.get('homepage', '')}",
        "Depends: R (>= 3.5.0)",
        "Imports: stats",
        "Suggests: metafor",
        "LazyData: true",
        "LazyDataCompression: xz",
        "Encoding: UTF-8",
        ""])


def write_source(pkg: Package, folder: Path, con: Any, dest: Path) -> tuple[Path, Path]:
    """The package's source folder (dest/pedall) and the staging folder make_data.R reads (dest/stage)."""
    src, stage = dest / "pedall", dest / "stage"
    for p in (src / "R", src / "man", src / "data", stage / "csv"):
        p.mkdir(parents=True)
    (src / "DESCRIPTION").write_text(_description(pkg), encoding="utf-8")
    (src / "NAMESPACE").write_text("".join(f"export({n})\n" for n in EXPORTS), encoding="utf-8")
    shutil.copyfile(pkg.root / "LICENSE", src / "LICENSE")
    (src / "R" / "package.R").write_text(_source("package.R"), encoding="utf-8")
    man = package_files("pedall").joinpath(f"{R_SOURCES}/man")
    for rd in sorted(man.iterdir(), key=lambda p: p.name):
        if rd.name.endswith(".Rd"):
            (src / "man" / rd.name).write_text(rd.read_text(encoding="utf-8"), encoding="utf-8")
    (src / "man" / "pedall-package.Rd").write_text(_package_rd(pkg), encoding="utf-8")
    specs = []
    for obj in objects(pkg, con):
        csv_path = stage / "csv" / f"{obj.name}.csv"
        if obj.rows is None:
            shutil.copyfile(folder / "data" / f"{obj.name}.csv", csv_path)
            nrow = sum(1 for _ in csv.reader(csv_path.open(encoding="utf-8", newline=""))) - 1
        else:
            _csv(obj, csv_path)
            nrow = len(obj.rows)
        specs.append({"name": obj.name, "schema": obj.spec()})
        (src / "man" / f"{obj.name}.Rd").write_text(data_rd(pkg, obj, nrow), encoding="utf-8")
    (stage / "spec.json").write_text(json.dumps(specs, indent=1, ensure_ascii=False), encoding="utf-8")
    (stage / "read.R").write_text(_source("read.R"), encoding="utf-8")
    (stage / "make_data.R").write_text(_source("make_data.R"), encoding="utf-8")
    return src, stage


def _package_rd(pkg: Package) -> str:
    d = pkg.descriptor
    return "\n".join([
        "\\name{pedall-package}", "\\alias{pedall-package}", "\\alias{pedall}", "\\docType{package}",
        f"\\title{{{_rd(d['title'])}}}",
        f"\\description{{{_rd(d['description'])}", "",
        f"This package holds release {pkg.version}: every table (\\code{{outcomes}}, \\code{{studies}}, ...) as a "
        "data frame typed from its Table Schema (integers, doubles, logicals, Dates, factors with the schema's "
        "levels), and the release's views (\\code{binary_outcomes}, \\code{study_summary}, the ranked candidate "
        "views) as DuckDB computed them. \\code{pedall_pool} pools one figure per study as the command line "
        "\\code{pedall pool} does; \\code{pedall_binary_outcomes} and \\code{pedall_candidates} give the rows "
        "behind it.}",
        f"\\source{{{_doi(pkg)}. \\url{{{d.get('homepage', '')}}}}}",
        "\\keyword{package}", ""])


def _r_available() -> str | None:
    for tool in ("Rscript", "R"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    res = subprocess.run(["Rscript", "-e", "library(jsonlite)"], capture_output=True, text=True, check=False)
    return None if res.returncode == 0 else "R's jsonlite package is not installed"


def _run(cmd: list[str], cwd: Path, what: str) -> None:
    env = {**os.environ, "LC_ALL": "C.UTF-8", "R_LIBS_USER": os.environ.get("R_LIBS_USER", "")}
    res = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        tail = " | ".join((res.stderr or res.stdout).strip().splitlines()[-3:])
        raise UserError(f"{what} failed: {tail}")


def build(pkg: Package, folder: Path, db: Path, out: Path) -> Path:
    """Write out/pedall_<version>.tar.gz from the release folder and its database; R is required."""
    from .engine import duckdb

    why = _r_available()
    if why:
        raise RMissing(f"{why}: the release's R package ({tarball_name(pkg.version)}) is built with R "
                       f"({INSTALL_HINT})")
    work = out / ".rpkg"
    con = duckdb.connect(str(db), read_only=True)
    try:
        src, stage = write_source(pkg, folder, con, work)
    finally:
        con.close()
    _run(["Rscript", str(stage / "make_data.R"), str(stage), str(src / "data")], work, "typing the R data frames")
    _run(["R", "CMD", "build", "--no-build-vignettes", "--no-manual", "--resave-data=no", str(src)], work,
         "R CMD build")
    built = work / tarball_name(pkg.version)
    target = out / built.name
    target.write_bytes(normalized(built.read_bytes(), _release_time(pkg)))
    shutil.rmtree(work)
    return target


def _release_time(pkg: Package) -> int:
    created = str(pkg.descriptor.get("created", "1970-01-01"))[:10]
    return int(dt.datetime.fromisoformat(created).replace(tzinfo=dt.UTC).timestamp())


def normalized(tar_gz: bytes, mtime: int) -> bytes:
    """The tarball with fixed times, owners and modes, members sorted, and DESCRIPTION's `Packaged:` line
    set to the release date: byte-identical when the contents are."""
    stamp = dt.datetime.fromtimestamp(mtime, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    buf = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(tar_gz), mode="r:gz") as src, \
            gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, filename="", compresslevel=9) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.USTAR_FORMAT) as dst:
        for m in sorted(src.getmembers(), key=lambda m: m.name):
            data = src.extractfile(m).read() if m.isfile() else None  # type: ignore[union-attr]
            if m.name.endswith("/DESCRIPTION") and m.name.count("/") == 1 and data is not None:
                data = re.sub(rb"(?m)^Packaged: .*$", f"Packaged: {stamp}; pedall build".encode(), data)
                m.size = len(data)
            m.mtime, m.uid, m.gid, m.uname, m.gname = mtime, 0, 0, "", ""
            m.mode = 0o755 if m.isdir() else 0o644
            dst.addfile(m, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()
