"""What `pedall zenodo` deposits: a release verified by check-release's own checks, and its metadata.

Before any request, the zip that is deposited (and the folder, when that is what was named) passes every
check of `pedall check-release` (check_release.check: SHA256SUMS, datapackage.json and frictionless,
versions, CITATION.cff and .zenodo.json against their schemas), and the DuckDB file beside it matches
its checksum, so a damaged or inconsistent build is never deposited. The deposit metadata is the
release's .zenodo.json with the version and date this deposit asserts.
"""

from __future__ import annotations

import json
import zipfile
import zlib
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from .check_release import check
from .checksums import file_digest, sha256, sidecar_matches
from .metadata import ReleaseError
from .rpackage import tarball_name
from .zipper import UnsafeZip, open_release_zip, release_name

SUMS = "SHA256SUMS"


@dataclass(frozen=True)
class Upload:
    path: Path
    size: int
    sha256: str
    md5: str

    @property
    def name(self) -> str:
        return self.path.name


@dataclass(frozen=True)
class Release:
    name: str  # pedall-<version>
    version: str
    zenodo: dict[str, Any]  # the release's .zenodo.json
    uploads: tuple[Upload, ...]
    absent: tuple[str, ...]  # expected files missing beside the release (the DuckDB file or its checksum)


def _refuse_if(problems: list[str], what: Path) -> None:
    if problems:
        raise ReleaseError(f"{what} fails the release checks (pedall check-release); refusing to deposit:\n  "
                           + "\n  ".join(problems))


def _read_zip(zpath: Path, name: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """SHA256SUMS, datapackage.json and .zenodo.json of a zip that passed check(); its top folder is `name`."""
    try:
        with open_release_zip(zpath) as (zf, top):
            if top != name:
                raise ReleaseError(f"{zpath} holds {top}/, not {name}/: not the zip of {name}")
            sums = zf.read(f"{name}/{SUMS}").decode("utf-8")
            descriptor = json.loads(zf.read(f"{name}/datapackage.json"))
            zen = json.loads(zf.read(f"{name}/.zenodo.json"))
    except (zipfile.BadZipFile, zlib.error, EOFError, UnsafeZip) as exc:
        raise ReleaseError(f"{zpath} is not a readable release zip: {exc}") from exc
    except KeyError as exc:
        raise ReleaseError(f"{zpath} lacks {exc.args[0]}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReleaseError(f"{zpath}: unreadable metadata: {exc}") from exc
    if not isinstance(descriptor, dict) or not isinstance(zen, dict):
        raise ReleaseError(f"{zpath}: datapackage.json and .zenodo.json must be JSON objects")
    return sums, descriptor, zen


def load_release(path: Path) -> Release:
    """Verify a release folder or zip and list the files to upload: the zip, the DuckDB file and its checksum."""
    path = path.resolve()
    if path.is_dir():
        name, zpath = path.name, path.parent / f"{path.name}.zip"
        _refuse_if(check(path, beside=False), path)  # the DuckDB file beside it: checked below
        if not zpath.is_file():
            raise ReleaseError(f"{zpath} is missing: the zip is what gets deposited; rebuild with `make release`")
        _refuse_if(check(zpath), zpath)
        zsums, descriptor, zen = _read_zip(zpath, name)
        if zsums != (path / SUMS).read_text(encoding="utf-8"):
            raise ReleaseError(f"{zpath.name} holds a different {SUMS} than {path}: not this folder's zip")
    elif path.is_file() and path.suffix == ".zip":
        name, zpath = path.stem, path
        _refuse_if(check(zpath), zpath)
        _, descriptor, zen = _read_zip(zpath, name)
    else:
        raise ReleaseError(f"{path} is neither a release folder nor a release .zip")

    version = descriptor.get("version")
    if not isinstance(version, str) or not version:
        raise ReleaseError(f"{name}: datapackage.json has no version")
    if name != release_name(version):
        raise ReleaseError(f"{name} does not match datapackage.json's version {version!r}")

    db, db_sums = zpath.parent / f"{name}.duckdb", zpath.parent / f"{name}.duckdb.sha256"
    if db.is_file() and db_sums.is_file() and not sidecar_matches(db, db_sums):
        raise ReleaseError(f"{db.name} does not match {db_sums.name}; refusing to deposit")
    tarball = zpath.parent / tarball_name(version)  # the R package, written by every `pedall build`
    present = [p for p in (zpath, db, db_sums, tarball) if p.is_file()]
    uploads = tuple(Upload(p, p.stat().st_size, sha256(p), file_digest(p, "md5")) for p in present)
    absent = tuple(p.name for p in (db, db_sums) if not p.is_file())
    return Release(name, version, zen, uploads, absent)


def build_metadata(rel: Release, published: date) -> dict[str, Any]:
    """Deposit metadata: the release's .zenodo.json, with the version and date this deposit asserts."""
    meta = dict(rel.zenodo)
    meta.update(upload_type="dataset", version=rel.version, publication_date=published.isoformat())
    missing = [k for k in ("title", "creators", "description") if not meta.get(k)]
    if not (meta.get("license") or meta.get("access_right")):
        missing.append("license (or access_right)")
    if missing:
        raise ReleaseError(f"{rel.name}: .zenodo.json lacks {', '.join(missing)}")
    return meta
