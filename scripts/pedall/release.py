"""`pedall build`: validate, then write dist/pedall-<version>/, its zip and the DuckDB file.

Everything is written into a temporary folder inside dist/ and moved into place only when
complete. A frozen version (recorded in releases/ by `pedall freeze`) that exists already is never
overwritten: rebuilding it must give the same SHA256SUMS, or the build fails and leaves the published
files untouched. A version not yet frozen is still being edited: its build in dist/ is a working
build, and `make release` replaces it with one of the current data.

A build that would change nothing is skipped: beside the release, `.pedall-<version>.inputs`
records a fingerprint of everything the release is made from (data, schemas, descriptor, copied
files, this tool's own code, the libraries that write the files, the previous release the
changelog compares with). When it matches and the release folder still matches its SHA256SUMS,
`pedall build` returns at once instead of validating and rebuilding (`make release` on an
up-to-date tree).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from . import citation, rpackage
from .checksums import mismatches, parse_sums, sha256
from .history import check_record, input_files, previous_release, record_path
from .metadata import ReleaseError, check_versions
from .package import Package, load_package
from .rpackage import tarball_name
from .zipper import release_name

COPIED = ("CITATION.cff", "LICENSE", ".zenodo.json")  # README.md is generated (readme.py)
DB_NAME = "pedall.duckdb"  # also database.DB_NAME; repeated so that an up-to-date check imports no DuckDB
# Libraries whose version can change the bytes of a release.
WRITERS = ("duckdb", "pyarrow", "pandas", "matplotlib")


def build(root: Path, dist: Path) -> Path:
    pkg = load_package(root)
    name = release_name(pkg.version)
    final = dist / name
    stamp = dist / f".{name}.inputs"
    fingerprint = _fingerprint(pkg)
    if _up_to_date(final, stamp, fingerprint):
        check_versions(pkg)
        citation.check(pkg)
        check_record(pkg)
        return final
    from .validate import validate
    from .zipper import write_zip

    frames = validate(pkg)
    check_versions(pkg)
    citation.check(pkg)
    check_record(pkg)
    dist.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".build-{name}-", dir=dist))
    try:
        folder = tmp / name
        _write_folder(pkg, frames, folder)
        write_zip(folder, tmp / f"{name}.zip", exclude={DB_NAME})
        shutil.copyfile(folder / DB_NAME, tmp / f"{name}.duckdb")
        rpackage.build(pkg, folder, folder / DB_NAME, tmp)  # pedall_<version>.tar.gz (needs R)
        (tmp / f"{name}.duckdb.sha256").write_text(f"{sha256(tmp / f'{name}.duckdb')}  {name}.duckdb\n")
        replace = True
        if final.exists():
            if record_path(pkg.root, pkg.version).exists():
                _same_or_fail(final, folder)
                replace = False
            elif _same(final, folder):
                replace = False
            else:
                # Not frozen, so never published: swap the working build for the current one.
                shutil.rmtree(final)
        if replace:
            for extra in (f"{name}.zip", f"{name}.duckdb", f"{name}.duckdb.sha256", tarball_name(pkg.version)):
                os.replace(tmp / extra, dist / extra)
            os.replace(folder, final)  # last: the folder's presence marks a complete release
        stamp.write_text(fingerprint, encoding="utf-8")
        return final
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _fingerprint(pkg: Package) -> str:
    from importlib import metadata

    h = hashlib.sha256()
    files = [*input_files(pkg), *COPIED, "CHANGELOG.md", "README.md"]
    records = sorted(p.relative_to(pkg.root).as_posix() for p in (pkg.root / "releases").glob("*.sha256"))
    for rel in [*files, *records]:
        h.update(f"{rel} {sha256(pkg.root / rel) if (pkg.root / rel).is_file() else '-'}\n".encode())
    code = Path(__file__).parent
    for p in sorted(q for q in code.rglob("*") if q.is_file() and q.suffix in (".py", ".sql", ".json", ".R", ".Rd")):
        h.update(f"{p.relative_to(code).as_posix()} {sha256(p)}\n".encode())
    for lib in WRITERS:
        h.update(f"{lib}=={metadata.version(lib)}\n".encode())
    h.update(f"previous {previous_release(pkg)}\n".encode())
    return h.hexdigest() + "\n"


def _up_to_date(final: Path, stamp: Path, fingerprint: str) -> bool:
    name = final.name
    try:
        if stamp.read_text(encoding="utf-8") != fingerprint:
            return False
        sums = parse_sums((final / "SHA256SUMS").read_text(encoding="utf-8"), "SHA256SUMS")
    except (OSError, ReleaseError):
        return False
    beside = [final.parent / f"{name}{ext}" for ext in (".zip", ".duckdb", ".duckdb.sha256")]
    beside.append(final.parent / tarball_name(final.name.removeprefix("pedall-")))
    if not all(p.is_file() for p in [*beside, final / DB_NAME]):
        return False
    return not mismatches(sums, lambda rel: sha256(final / rel) if (final / rel).is_file() else None)


def _same(existing: Path, fresh: Path) -> bool:
    old = (existing / "SHA256SUMS").read_text(encoding="utf-8") if (existing / "SHA256SUMS").exists() else ""
    return old == (fresh / "SHA256SUMS").read_text(encoding="utf-8")


def _same_or_fail(existing: Path, fresh: Path) -> None:
    if not _same(existing, fresh):
        raise ReleaseError(f"{existing} exists with different content; version {fresh.name} is frozen "
                           "(releases/) and a released version is never overwritten: bump the version in "
                           "datapackage.json")


def _write_folder(pkg: Package, frames, folder: Path) -> None:  # type: ignore[no-untyped-def]
    from . import candidates, database, dictionary, figures, loadsql, overview, parquet, readme
    from .changelog import release_changelog

    (folder / "data").mkdir(parents=True)
    (folder / "parquet").mkdir()
    for t in pkg.tables.values():
        shutil.copyfile(pkg.root / t.path, folder / "data" / f"{t.name}.csv")
        parquet.write(t, frames[t.name], folder / "parquet" / f"{t.name}.parquet")
    for fname in COPIED:
        shutil.copyfile(pkg.root / fname, folder / fname)
    (folder / "README.md").write_text(readme.render(pkg, (pkg.root / "README.md").read_text(encoding="utf-8")),
                                      encoding="utf-8")
    (folder / loadsql.NAME).write_text(loadsql.render_checked(pkg), encoding="utf-8")
    (folder / readme.R_LOADER).parent.mkdir()
    (folder / readme.R_LOADER).write_text(rpackage.loader(), encoding="utf-8")
    (folder / "CHANGELOG.md").write_text(release_changelog(pkg), encoding="utf-8")
    (folder / "DATA_DICTIONARY.md").write_text(dictionary.render(pkg), encoding="utf-8")
    (folder / "datapackage.json").write_text(_release_descriptor(pkg, folder), encoding="utf-8")
    database.build(pkg, folder / "parquet", folder / DB_NAME)
    candidates.write(folder / DB_NAME, folder / candidates.NAME)
    figures.write(folder / DB_NAME, folder / "figures", pkg.version)
    (folder / "index.html").write_text(overview.render(pkg, folder), encoding="utf-8")
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    sums = [f"{sha256(folder / f)}  {f}" for f in files if f not in {DB_NAME, "SHA256SUMS"}]
    (folder / "SHA256SUMS").write_text("\n".join(sums) + "\n", encoding="utf-8")


def _release_descriptor(pkg: Package, folder: Path) -> str:
    """The package descriptor for the release: schemas inline, every data file with bytes and hash.

    It must validate as shipped with stock `frictionless validate datapackage.json`. A tabular data
    package may hold tabular (CSV) resources only, so the release is a plain data package: the CSV
    files are tabular resources, checked row by row against their schemas; each Parquet file is a
    file resource (its bytes and hash checked) carrying the same schema for tools that read it.
    (Described as tabular, frictionless 5.21 reads Parquet through pandas, where a missing integer
    becomes NaN and fails its own schema: the files are right, the reader is not.)
    """
    d = copy.deepcopy(pkg.descriptor)
    d["profile"] = "data-package"
    resources = []
    for res in d["resources"]:
        t = pkg.tables[res["name"]]
        csv = folder / "data" / f"{t.name}.csv"
        pq = folder / "parquet" / f"{t.name}.parquet"
        resources.append({**res, "path": f"data/{t.name}.csv", "schema": t.schema,
                          "bytes": csv.stat().st_size, "hash": f"sha256:{sha256(csv)}"})
        resources.append({"name": f"{t.name}-parquet", "title": f"{t.title} (Parquet)",
                          "description": f"The {t.name} table as Apache Parquet, typed from its Table Schema.",
                          "path": f"parquet/{t.name}.parquet", "profile": "data-resource", "type": "file",
                          "format": "parquet", "mediatype": "application/vnd.apache.parquet",
                          "schema": t.schema, "bytes": pq.stat().st_size, "hash": f"sha256:{sha256(pq)}"})
    d["resources"] = resources
    return json.dumps(d, indent=2, ensure_ascii=False) + "\n"
