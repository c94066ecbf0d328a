"""`pedall build`: validate, then write dist/pedall-<version>/, its zip and the DuckDB file.

Everything is written into a temporary folder inside dist/ and moved into place only when
complete. A frozen version (recorded in releases/ by `pedall freeze`) that exists already is never
overwritten: rebuilding it must give the same SHA256SUMS, or the build fails and leaves the published
files untouched. A version not yet frozen is still being edited: its build in dist/ is a working
build, and `make release` replaces it with one of the current data.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import tempfile
from pathlib import Path

from . import citation, database, dictionary, figures, overview, parquet
from .changelog import release_changelog
from .checksums import sha256
from .database import DB_NAME
from .history import check_record, record_path
from .metadata import ReleaseError, check_versions
from .package import Package, load_package
from .validate import validate
from .zipper import release_name, write_zip

COPIED = ("CITATION.cff", "LICENSE", "README.md", ".zenodo.json")


def build(root: Path, dist: Path) -> Path:
    pkg = load_package(root)
    frames = validate(pkg)
    check_versions(pkg)
    citation.check(pkg)
    check_record(pkg)
    dist.mkdir(parents=True, exist_ok=True)
    name = release_name(pkg.version)
    final = dist / name
    tmp = Path(tempfile.mkdtemp(prefix=f".build-{name}-", dir=dist))
    try:
        folder = tmp / name
        _write_folder(pkg, frames, folder)
        write_zip(folder, tmp / f"{name}.zip", exclude={DB_NAME})
        shutil.copyfile(folder / DB_NAME, tmp / f"{name}.duckdb")
        (tmp / f"{name}.duckdb.sha256").write_text(f"{sha256(tmp / f'{name}.duckdb')}  {name}.duckdb\n")
        if final.exists():
            if record_path(pkg.root, pkg.version).exists():
                _same_or_fail(final, folder)
                return final
            if _same(final, folder):
                return final
            # Not frozen, so never published: swap the working build for the current one.
            shutil.rmtree(final)
        for extra in (f"{name}.zip", f"{name}.duckdb", f"{name}.duckdb.sha256"):
            os.replace(tmp / extra, dist / extra)
        os.replace(folder, final)  # last: the folder's presence marks a complete release
        return final
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _same(existing: Path, fresh: Path) -> bool:
    old = (existing / "SHA256SUMS").read_text(encoding="utf-8") if (existing / "SHA256SUMS").exists() else ""
    return old == (fresh / "SHA256SUMS").read_text(encoding="utf-8")


def _same_or_fail(existing: Path, fresh: Path) -> None:
    if not _same(existing, fresh):
        raise ReleaseError(f"{existing} exists with different content; version {fresh.name} is frozen "
                           "(releases/) and a released version is never overwritten: bump the version in "
                           "datapackage.json")


def _write_folder(pkg: Package, frames, folder: Path) -> None:  # type: ignore[no-untyped-def]
    (folder / "data").mkdir(parents=True)
    (folder / "parquet").mkdir()
    for t in pkg.tables.values():
        shutil.copyfile(pkg.root / t.path, folder / "data" / f"{t.name}.csv")
        parquet.write(t, frames[t.name], folder / "parquet" / f"{t.name}.parquet")
    for fname in COPIED:
        shutil.copyfile(pkg.root / fname, folder / fname)
    (folder / "CHANGELOG.md").write_text(release_changelog(pkg), encoding="utf-8")
    (folder / "DATA_DICTIONARY.md").write_text(dictionary.render(pkg), encoding="utf-8")
    (folder / "datapackage.json").write_text(_release_descriptor(pkg, folder), encoding="utf-8")
    database.build(pkg, folder / "parquet", folder / DB_NAME)
    figures.write(folder / DB_NAME, folder / "figures", pkg.version)
    (folder / "index.html").write_text(overview.render(pkg, folder), encoding="utf-8")
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    sums = [f"{sha256(folder / f)}  {f}" for f in files if f not in {DB_NAME, "SHA256SUMS"}]
    (folder / "SHA256SUMS").write_text("\n".join(sums) + "\n", encoding="utf-8")


def _release_descriptor(pkg: Package, folder: Path) -> str:
    """The package descriptor for the release: schemas inline, every data file with bytes and hash."""
    d = copy.deepcopy(pkg.descriptor)
    resources = []
    for res in d["resources"]:
        t = pkg.tables[res["name"]]
        csv = folder / "data" / f"{t.name}.csv"
        pq = folder / "parquet" / f"{t.name}.parquet"
        resources.append({**res, "path": f"data/{t.name}.csv", "schema": t.schema,
                          "bytes": csv.stat().st_size, "hash": f"sha256:{sha256(csv)}"})
        resources.append({"name": f"{t.name}-parquet", "title": f"{t.title} (Parquet)",
                          "description": f"The {t.name} table as Apache Parquet, typed from its Table Schema.",
                          "path": f"parquet/{t.name}.parquet", "format": "parquet",
                          "mediatype": "application/vnd.apache.parquet",
                          "bytes": pq.stat().st_size, "hash": f"sha256:{sha256(pq)}"})
    d["resources"] = resources
    return json.dumps(d, indent=2, ensure_ascii=False) + "\n"
