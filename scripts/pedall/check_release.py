"""`pedall check-release DIR|ZIP`: verify a built release before it is published."""

from __future__ import annotations

import json
import shutil
import tempfile
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import frictionless
import jsonschema
import yaml

from .checksums import mismatches, parse_sums, sha256, sidecar_matches
from .database import DB_NAME
from .metadata import ReleaseError, changelog_has, citation_version, zenodo_version
from .zipper import open_release_zip, release_name


def check(target: Path) -> list[str]:
    """Every problem found with the release folder or zip; empty when it may be published."""
    if target.is_file() and target.suffix == ".zip":
        with tempfile.TemporaryDirectory() as tmp:
            with open_release_zip(target) as (zf, top):
                if top is None:
                    tops = sorted({n.split("/", 1)[0] for n in zf.namelist()})
                    return [f"{target.name}: a release zip holds exactly one top folder, found {tops}"]
                zf.extractall(tmp)  # names come from our own build; checked below against SHA256SUMS
            return _check_folder(Path(tmp) / top, expect_db=False)
    if target.is_dir():
        return _check_folder(target, expect_db=True) + _duckdb_sidecar(target)
    return [f"{target}: not a release folder or zip"]


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
    d = json.loads(path.read_text(encoding="utf-8"))
    problems = []
    for res in d.get("resources", []):
        p = folder / res["path"]
        if not p.is_file():
            problems.append(f"datapackage.json: resource {res['name']}: {res['path']} is missing")
            continue
        if res.get("bytes") != p.stat().st_size:
            problems.append(f"datapackage.json: resource {res['name']}: bytes {res.get('bytes')} != {p.stat().st_size}")
        if res.get("hash") != f"sha256:{sha256(p)}":
            problems.append(f"datapackage.json: resource {res['name']}: hash does not match {res['path']}")
    # frictionless reads no Parquet without a plugin: validate the CSV resources in a scratch copy.
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(shutil.copytree(folder / "data", Path(tmp) / "data")).parent
        csv_only = {**d, "resources": [r for r in d.get("resources", []) if r.get("format") == "csv"]}
        (copy / "datapackage.json").write_text(json.dumps(csv_only), encoding="utf-8")
        report = frictionless.validate(str(copy / "datapackage.json"))
        for task in report.tasks:
            for err in task.errors:
                problems.append(f"datapackage.json: {task.name}: row {getattr(err, 'row_number', '-')}: {err.message}")
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


