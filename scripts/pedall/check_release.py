"""`pedall check-release DIR|ZIP`: verify a built release before it is published."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import zipfile
import zlib
from datetime import date
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any

import jsonschema
import yaml

from .checksums import mismatches, parse_sums, sha256, sidecar_matches
from .database import DB_NAME
from .metadata import ReleaseError, changelog_has, citation_version, zenodo_version
from .zipper import UnsafeZip, extract, open_release_zip, release_name


def check(target: Path, *, beside: bool = True) -> list[str]:
    """Every problem found with the release folder or zip; empty when it may be published.

    `beside`: also check the DuckDB file beside a folder against its checksum (pedall zenodo, which
    may deposit without it, checks it itself).

    A target that cannot be read as a release at all (not a zip, no datapackage.json, broken
    JSON) gives one problem saying so rather than an exception.
    """
    try:
        return _check(target, beside)
    except UnsafeZip as exc:
        return [f"refused: {exc}"]
    except zipfile.BadZipFile as exc:
        return ["not a zip file" if "not a zip file" in str(exc).lower() else f"a damaged zip: {exc}"]
    except (zlib.error, EOFError) as exc:  # deflate errors surface while a member is read
        return [f"a damaged zip: {exc}"]
    except OSError as exc:
        return [f"cannot read {exc.filename or target}: {exc.strerror or exc}"]
    except UnicodeDecodeError as exc:
        return [f"a file is not UTF-8 ({exc.reason})"]
    except ValueError as exc:
        return [f"datapackage.json is not valid JSON: {exc}"]
    except (KeyError, TypeError, AttributeError) as exc:
        return [f"datapackage.json is not a release descriptor: {type(exc).__name__}: {exc}"]


def _check(target: Path, beside: bool) -> list[str]:
    if target.is_file() and target.suffix == ".zip":
        with tempfile.TemporaryDirectory(prefix="pedall-check-") as tmp:
            # Every member's name, size and kind is checked before anything is unpacked (zipper).
            with open_release_zip(target) as (zf, top):
                extract(zf, Path(tmp))
            return _check_folder(Path(tmp) / top, expect_db=False)
    if target.is_dir():
        if not (target / "datapackage.json").is_file():
            return ["not a release folder (no datapackage.json)"]
        return _check_folder(target, expect_db=True) + (_duckdb_sidecar(target) if beside else [])
    return ["not a release folder or zip"]


def _duckdb_sidecar(folder: Path) -> list[str]:
    # The DuckDB file ships beside the zip with its own checksum (it is not byte-reproducible).
    side = folder.parent / f"{folder.name}.duckdb.sha256"
    db = folder.parent / f"{folder.name}.duckdb"
    if not side.exists():
        return []
    if not db.exists():
        return [f"{db.name} is missing beside {side.name}"]
    return [] if sidecar_matches(db, side) else [f"{db.name} does not match {side.name}"]


def _check_folder(folder: Path, expect_db: bool) -> list[str]:
    problems = _checksums(folder, expect_db)
    problems += _datapackage(folder)
    problems += _versions(folder)
    problems += _citation(folder)
    problems += _zenodo(folder)
    return problems


def _checksums(folder: Path, expect_db: bool) -> list[str]:
    sums = folder / "SHA256SUMS"
    if not sums.exists():
        return ["SHA256SUMS is missing"]
    try:
        listed = parse_sums(sums.read_text(encoding="utf-8"), "SHA256SUMS")
    except ReleaseError as exc:
        return [str(exc)]
    found = mismatches(listed, lambda rel: sha256(folder / rel) if (folder / rel).is_file() else None)
    problems = [f"SHA256SUMS:{n}: {rel} {'is missing' if kind == 'missing' else 'does not match its checksum'}"
                for n, rel, kind in found]
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    for extra in sorted(present - set(listed) - {"SHA256SUMS", DB_NAME}):
        problems.append(f"{extra} is not listed in SHA256SUMS")
    if expect_db and not (folder / DB_NAME).exists():
        problems.append(f"{DB_NAME} is missing")
    return problems


def _datapackage(folder: Path) -> list[str]:
    path = folder / "datapackage.json"
    if not path.exists():
        return ["datapackage.json is missing"]
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        return [f"datapackage.json is not valid JSON: {exc}"]
    if not isinstance(d, dict):
        return ["datapackage.json is not a JSON object"]
    problems = []
    unsafe = _outside_paths(d)
    if unsafe:  # frictionless would follow them (a URL is a download): refuse before it runs
        return [f"datapackage.json: refused: {u!r} is not a path inside the release" for u in unsafe]
    for res in d.get("resources", []):
        if not isinstance(res, dict) or not isinstance(res.get("path"), str) or "name" not in res:
            problems.append(f"datapackage.json: resource without name or path: {str(res)[:80]}")
            continue
        p = folder / res["path"]
        if not p.is_file():
            problems.append(f"datapackage.json: resource {res['name']}: {res['path']} is missing")
            continue
        if res.get("bytes") != p.stat().st_size:
            problems.append(f"datapackage.json: resource {res['name']}: bytes {res.get('bytes')} != {p.stat().st_size}")
        if res.get("hash") != f"sha256:{sha256(p)}":
            problems.append(f"datapackage.json: resource {res['name']}: hash does not match {res['path']}")
    return problems + _frictionless(folder)


def _outside_paths(descriptor: dict[str, Any]) -> list[str]:
    """Resource paths, schemas and dialects given as text that do not stay inside the release folder."""
    out = []
    for res in descriptor.get("resources", []):
        if not isinstance(res, dict):
            continue
        paths = res.get("path")
        for value in [*(paths if isinstance(paths, list) else [paths]), res.get("schema"), res.get("dialect")]:
            if isinstance(value, str) and not _relative_inside(value):
                out.append(value)
    return out


def _relative_inside(rel: str) -> bool:
    parts = PurePosixPath(rel).parts
    return bool(parts) and not rel.startswith("/") and "\\" not in rel and ":" not in rel and ".." not in parts


def _frictionless(folder: Path) -> list[str]:
    """`frictionless validate datapackage.json` from inside the folder: exactly what a user would run."""
    cmd = [sys.executable, "-m", "frictionless", "validate", "--json", "datapackage.json"]
    res = subprocess.run(cmd, cwd=folder, capture_output=True, text=True, check=False)
    try:
        report = json.loads(res.stdout)
    except ValueError:
        tail = (res.stderr or res.stdout).strip().splitlines()[-1:] or ["no output"]
        return [f"frictionless validate datapackage.json failed (exit {res.returncode}): {tail[0]}"]
    problems = [f"datapackage.json: frictionless: {err.get('message')}" for err in report.get("errors", [])]
    for task in report.get("tasks", []):
        for err in task.get("errors", []):
            problems.append(f"datapackage.json: {task.get('name')}: row {err.get('rowNumber', '-')}: "
                            f"{err.get('message')}")
    if res.returncode != 0 and not problems:
        problems.append(f"frictionless validate datapackage.json exited {res.returncode}")
    return problems


def _versions(folder: Path) -> list[str]:
    try:
        v = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))["version"]
    except (OSError, KeyError, ValueError):
        return ["datapackage.json has no version"]
    problems = []
    if folder.name != release_name(v):
        problems.append(f"folder name {folder.name!r} does not carry version {v}")
    for name, read in (("CITATION.cff", citation_version), (".zenodo.json", zenodo_version)):
        try:
            got = read(folder)
        except (OSError, ValueError) as exc:
            problems.append(f"{name}: cannot be read ({exc})")
            continue
        if got != v:
            problems.append(f"{name} says version {got!r}, datapackage.json {v!r}")
    try:
        if not changelog_has(folder, v):
            problems.append(f"CHANGELOG.md has no entry '## [{v}]'")
    except OSError:
        problems.append("CHANGELOG.md is missing")
    return problems


def _citation(folder: Path) -> list[str]:
    # Validated against the Citation File Format 1.2.0 JSON schema (resources/, CC-BY-4.0, from the CFF
    # project), as cffconvert does; cffconvert itself pins a jsonschema older than frictionless allows.
    try:
        data = _plain(yaml.safe_load((folder / "CITATION.cff").read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError) as exc:
        return [f"CITATION.cff is not valid CFF: {str(exc).splitlines()[0]}"]
    validator = jsonschema.Draft7Validator(cff_schema(), format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    return [f"CITATION.cff is not valid CFF: {'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
            for e in errors]


def _plain(value: Any) -> Any:
    # YAML reads an unquoted date as a date; CFF (JSON) wants its text.
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value.isoformat() if isinstance(value, date) else value


def cff_schema() -> dict:
    return json.loads(resources.files("pedall").joinpath("resources/cff-1.2.0.schema.json").read_text())


def zenodo_schema() -> dict:
    return json.loads(resources.files("pedall").joinpath("resources/zenodo.schema.json").read_text())


def _zenodo(folder: Path) -> list[str]:
    try:
        meta = json.loads((folder / ".zenodo.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return [f".zenodo.json cannot be read: {exc}"]
    validator = jsonschema.Draft202012Validator(zenodo_schema())
    return [f".zenodo.json: {'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
            for e in sorted(validator.iter_errors(meta), key=lambda e: list(map(str, e.absolute_path)))]


