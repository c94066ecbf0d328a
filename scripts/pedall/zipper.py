"""Release names and zips: the one place that names a release and writes or opens its zip.

Zips are byte-reproducible: sorted entries, fixed dates and permissions.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PREFIX = "pedall-"


def release_name(version: str) -> str:
    """The folder (and zip stem) of a release: pedall-<version>."""
    return f"{PREFIX}{version}"


@contextmanager
def open_release_zip(path: Path) -> Iterator[tuple[zipfile.ZipFile, str | None]]:
    """Open a release zip: yields the archive and its one top folder (None unless there is exactly one).
    Callers turn a missing top folder into their own kind of error."""
    with zipfile.ZipFile(path) as zf:
        tops = {n.split("/", 1)[0] for n in zf.namelist()}
        yield zf, (next(iter(tops)) if len(tops) == 1 else None)

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
