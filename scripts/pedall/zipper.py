"""Release names and zips: the one place that names a release and writes, opens or unpacks its zip.

Zips are byte-reproducible: sorted entries, fixed dates and permissions.

A zip to open may come from anywhere, so before any member is read or unpacked the whole archive is
held to a release's shape: one top folder, at most MAX_MEMBERS members of at most MAX_UNPACKED bytes
in all (as declared; Python's zipfile never inflates a member past its declared size), names that are
relative, without `..`, backslashes or drive letters, at most MAX_DEPTH folders deep, no duplicates and
no symbolic links.
"""

from __future__ import annotations

import shutil
import stat
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from .problems import UserError

PREFIX = "pedall-"
MAX_MEMBERS = 10_000
MAX_UNPACKED = 1 << 30  # 1 GiB; a release is a few MB
MAX_DEPTH = 8  # pedall-<v>/parquet/x.parquet is 3


class UnsafeZip(UserError):
    """A zip that is not shaped like a release (or could harm the machine unpacking it)."""


def release_name(version: str) -> str:
    """The folder (and zip stem) of a release: pedall-<version>."""
    return f"{PREFIX}{version}"


def _refusal(info: zipfile.ZipInfo) -> str | None:
    name = info.filename
    parts = PurePosixPath(name).parts
    if (not parts or name.startswith("/") or "\\" in name or ":" in parts[0] or ".." in parts
            or "/".join(parts) != name.removesuffix("/")):  # also no `.`, `//`: one spelling per path
        return f"unsafe member name {name!r}"
    if len(parts) > MAX_DEPTH:
        return f"member {name!r} is nested {len(parts)} levels deep (at most {MAX_DEPTH})"
    if stat.S_ISLNK(info.external_attr >> 16):
        return f"member {name!r} is a symbolic link"
    return None


def check_members(zf: zipfile.ZipFile, label: str) -> str:
    """The zip's one top folder, after every member passed the checks above; UnsafeZip otherwise."""
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise UnsafeZip(f"{label}: {len(infos)} members, more than a release holds (at most {MAX_MEMBERS})")
    total = sum(i.file_size for i in infos)
    if total > MAX_UNPACKED:
        raise UnsafeZip(f"{label}: members would unpack to {total} bytes (at most {MAX_UNPACKED})")
    seen: set[str] = set()
    for info in infos:
        why = _refusal(info)
        if why:
            raise UnsafeZip(f"{label}: {why}")
        key = info.filename.rstrip("/")
        if key in seen:
            raise UnsafeZip(f"{label}: member {info.filename!r} appears twice")
        seen.add(key)
    tops = sorted({PurePosixPath(i.filename).parts[0] for i in infos})
    if len(tops) != 1 or not any("/" in i.filename.rstrip("/") for i in infos):
        raise UnsafeZip(f"{label}: a release zip holds exactly one top folder, found {tops}")
    return tops[0]


@contextmanager
def open_release_zip(path: Path) -> Iterator[tuple[zipfile.ZipFile, str]]:
    """Open a release zip: yields the archive and its one top folder, once every member passed
    check_members (UnsafeZip otherwise; zipfile.BadZipFile if it is not a zip)."""
    with zipfile.ZipFile(path) as zf:
        yield zf, check_members(zf, str(path))


def extract(zf: zipfile.ZipFile, dest: Path, members: Iterable[str] | None = None) -> None:
    """Unpack members (default: all) of a zip that passed check_members into `dest`, files only,
    each written through a new file under `dest` (never through an existing link)."""
    wanted = None if members is None else set(members)
    root = dest.resolve()
    for info in zf.infolist():
        if info.is_dir() or (wanted is not None and info.filename not in wanted):
            continue
        target = root.joinpath(*PurePosixPath(info.filename).parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        with zf.open(info) as src, target.open("xb") as out:
            shutil.copyfileobj(src, out, 1 << 20)


_EPOCH = (1980, 1, 1, 0, 0, 0)


def write_zip(folder: Path, dest: Path, exclude: set[str]) -> None:
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.relative_to(folder).as_posix() not in exclude)
    with zipfile.ZipFile(dest, "w") as zf:
        for p in files:
            info = zipfile.ZipInfo(f"{folder.name}/{p.relative_to(folder).as_posix()}", date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3  # unix, whatever the building machine
            zf.writestr(info, p.read_bytes(), compresslevel=9)
