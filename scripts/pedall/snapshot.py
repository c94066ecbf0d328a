"""Read the tables of one side of a comparison: a release folder, a release zip or a git ref.

All three are reduced to the same form (each table's fields, primary key and rows keyed by it), so
`pedall diff` and the changelog compare them without caring where they came from.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from .problems import UserError
from .zipper import UnsafeZip, open_release_zip


@dataclass(frozen=True)
class TableData:
    fields: dict[str, str]  # name -> Table Schema type, in schema order
    primary_key: tuple[str, ...]
    rows: dict[tuple[str, ...], dict[str, str]]


@dataclass(frozen=True)
class Snapshot:
    label: str
    version: str
    tables: dict[str, TableData]


class SnapshotError(UserError):
    """A side of a comparison cannot be read."""


def load(spec: str, repo: Path) -> Snapshot:
    """A release folder, a release zip, or a git ref of `repo` (in that order of precedence).

    Anything else, or a side that cannot be read (not a zip, no datapackage.json, broken JSON or
    CSV), is a SnapshotError naming it.
    """
    try:
        return _load(spec, repo)
    except SnapshotError:
        raise
    except UnsafeZip as exc:
        raise SnapshotError(f"refused: {exc}") from None
    except zipfile.BadZipFile:
        raise SnapshotError(f"{spec}: not a zip file") from None
    except OSError as exc:
        raise SnapshotError(f"{spec}: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")) from None
    except UnicodeDecodeError as exc:
        raise SnapshotError(f"{spec}: a file is not UTF-8 ({exc.reason})") from None
    except ValueError as exc:
        raise SnapshotError(f"{spec}: datapackage.json or a schema is not valid JSON: {exc}") from None
    except (KeyError, TypeError, AttributeError, csv.Error) as exc:
        raise SnapshotError(f"{spec}: not a pedall release: {type(exc).__name__}: {exc}") from None


def _load(spec: str, repo: Path) -> Snapshot:
    path = Path(spec)
    if path.is_dir():
        if not (path / "datapackage.json").is_file():
            raise SnapshotError(f"{spec}: not a release folder (no datapackage.json)")
        root = path.resolve()
        return _from_reader(spec, lambda rel: _file(root, _inside(rel, spec), spec))
    if path.is_file() and path.suffix == ".zip":
        # Members are checked whole first (count, sizes, names, links), then read one at a time as needed.
        with open_release_zip(path) as (zf, top):
            members = {i.filename for i in zf.infolist() if not i.is_dir()}
            return _from_reader(spec, lambda rel: _member(zf, members, f"{top}/{_inside(rel, spec)}", spec))
    if path.is_file():
        raise SnapshotError(f"{spec}: not a release folder or zip")
    return _from_reader(spec, lambda rel: git_show(repo, spec, _inside(rel, spec)))


def _inside(rel: object, spec: str) -> str:
    """A path taken from the (untrusted) datapackage.json: relative, and staying inside the release."""
    parts = PurePosixPath(rel).parts if isinstance(rel, str) else ()
    if not parts or str(rel).startswith("/") or "\\" in str(rel) or ":" in parts[0] or ".." in parts:
        raise SnapshotError(f"{spec}: refused: datapackage.json names {rel!r}, a path outside the release")
    return "/".join(parts)


def _file(root: Path, rel: str, spec: str) -> bytes:
    target = (root / rel).resolve()
    if not target.is_relative_to(root):  # a link inside the folder pointing out of it
        raise SnapshotError(f"{spec}: refused: {rel} leads outside the release folder")
    return target.read_bytes()


def git_show(repo: Path, ref: str, rel: str) -> bytes:
    res = subprocess.run(["git", "-C", str(repo), "show", f"{ref}:{rel}"], capture_output=True, check=False)
    if res.returncode != 0:
        raise SnapshotError(f"{ref}: not a release folder, a zip or a git ref with {rel}: "
                            f"{res.stderr.decode(errors='replace').strip()}")
    return res.stdout


def _member(zf: zipfile.ZipFile, members: set[str], name: str, spec: str) -> bytes:
    if name not in members:
        raise SnapshotError(f"{spec}: {name} is missing from the zip")
    return zf.read(name)


def _from_reader(label: str, read: Callable[[str], bytes]) -> Snapshot:
    descriptor = json.loads(read("datapackage.json"))
    tables = {}
    for res in descriptor["resources"]:
        if res.get("format", "csv") != "csv":
            continue  # a release also lists its Parquet copies of the same tables
        schema: dict[str, Any] = res["schema"]
        if isinstance(schema, str):  # the repository refers to its schema files; a release inlines them
            schema = json.loads(read(schema))
        pk = schema["primaryKey"]
        pk = (pk,) if isinstance(pk, str) else tuple(pk)
        text = read(res["path"]).decode("utf-8")
        rows = {}
        for row in csv.DictReader(io.StringIO(text)):
            rows[tuple(row.get(k, "") for k in pk)] = row
        tables[res["name"]] = TableData({f["name"]: f.get("type", "string") for f in schema["fields"]}, pk, rows)
    return Snapshot(label=label, version=str(descriptor.get("version", "")), tables=tables)
